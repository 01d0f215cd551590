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
