# Benchmark helpers that run llama.cpp beside dragon (built only when the prebuilt libllama and the
# llama.cpp headers are present, like the oracle in tests/oracle/oracle.cmake).
if(TARGET llama_oracle)
  add_executable(llama_tokenize_bench ${CMAKE_CURRENT_LIST_DIR}/llama_tokenize_bench.c)
  get_target_property(_bench_libs llama_oracle LINK_LIBRARIES)
  get_target_property(_bench_incs llama_oracle INCLUDE_DIRECTORIES)
  get_target_property(_bench_rpath llama_oracle BUILD_RPATH)
  set_target_properties(llama_tokenize_bench PROPERTIES C_STANDARD 11 RUNTIME_OUTPUT_DIRECTORY "${CMAKE_BINARY_DIR}"
                        BUILD_RPATH "${_bench_rpath}")
  target_include_directories(llama_tokenize_bench SYSTEM PRIVATE ${_bench_incs})
  target_link_libraries(llama_tokenize_bench PRIVATE ${_bench_libs})
endif()

# Kernel micro-benchmarks (Google Benchmark): GB/s of weights per format and ISA, and the thread
# pool's barrier. Not part of `all`: ninja -C build matmul_bench thread_pool_bench
find_package(benchmark QUIET)
if(benchmark_FOUND)
  add_executable(matmul_bench EXCLUDE_FROM_ALL ${CMAKE_CURRENT_LIST_DIR}/matmul_bench.cc)
  target_link_libraries(matmul_bench PRIVATE dragon_core benchmark::benchmark)
  set_target_properties(matmul_bench PROPERTIES RUNTIME_OUTPUT_DIRECTORY "${CMAKE_BINARY_DIR}")
  add_executable(thread_pool_bench EXCLUDE_FROM_ALL ${CMAKE_CURRENT_LIST_DIR}/thread_pool_bench.cc)
  target_link_libraries(thread_pool_bench PRIVATE dragon_core benchmark::benchmark)
  set_target_properties(thread_pool_bench PROPERTIES RUNTIME_OUTPUT_DIRECTORY "${CMAKE_BINARY_DIR}")
  add_executable(attention_bench EXCLUDE_FROM_ALL ${CMAKE_CURRENT_LIST_DIR}/attention_bench.cc)
  target_link_libraries(attention_bench PRIVATE dragon_core benchmark::benchmark)
  set_target_properties(attention_bench PROPERTIES RUNTIME_OUTPUT_DIRECTORY "${CMAKE_BINARY_DIR}")
endif()

# MLA prefill, absorbed vs decompressed (bench/RESULTS.md). Not part of `all`: ninja -C build mla_prefill_bench
add_executable(mla_prefill_bench EXCLUDE_FROM_ALL ${CMAKE_CURRENT_LIST_DIR}/mla_prefill_bench.cc)
target_link_libraries(mla_prefill_bench PRIVATE dragon_core)
set_target_properties(mla_prefill_bench PROPERTIES RUNTIME_OUTPUT_DIRECTORY "${CMAKE_BINARY_DIR}")
