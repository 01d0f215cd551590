#include "hub/download.h"

#include <curl/curl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>

#include "hub/sha256.h"
#include "util/error.h"

namespace dragon::hub {

namespace fs = std::filesystem;

namespace {

using Curl = std::unique_ptr<CURL, void (*)(CURL*)>;
using Headers = std::unique_ptr<curl_slist, void (*)(curl_slist*)>;

// The header list must outlive the transfer, so the caller keeps it.
Headers auth_headers(CURL* curl, const std::string& bearer_token) {
  Headers h(nullptr, curl_slist_free_all);
  if (bearer_token.empty()) return h;
  h.reset(curl_slist_append(nullptr, ("Authorization: Bearer " + bearer_token).c_str()));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h.get());
  return h;
}

Curl new_session(const std::string& url) {
  static std::once_flag init;
  std::call_once(init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  Curl curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) fail("{}: cannot start a libcurl session", url);
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_CONNECTTIMEOUT, 20L);
  curl_easy_setopt(curl.get(), CURLOPT_USERAGENT, "dragon");
  // A stalled transfer (under 1 byte/s for 60 s) fails and is resumed, rather than hanging.
  curl_easy_setopt(curl.get(), CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_LOW_SPEED_TIME, 60L);
  return curl;
}

bool is_connection_failure(CURLcode c) {
  return c == CURLE_COULDNT_RESOLVE_HOST || c == CURLE_COULDNT_CONNECT || c == CURLE_COULDNT_RESOLVE_PROXY ||
         c == CURLE_OPERATION_TIMEDOUT || c == CURLE_SSL_CONNECT_ERROR;
}

std::string human_bytes(double n) {
  if (n >= 1 << 30) return fmt::format("{:.2f} GiB", n / (1 << 30));
  if (n >= 1 << 20) return fmt::format("{:.1f} MiB", n / (1 << 20));
  if (n >= 1 << 10) return fmt::format("{:.1f} KiB", n / (1 << 10));
  return fmt::format("{:.0f} B", n);
}

std::string human_seconds(double s) {
  if (s < 0 || s > 1e7) return "--";
  const int t = int(s + 0.5);
  if (t >= 3600) return fmt::format("{}h{:02}m", t / 3600, t / 60 % 60);
  if (t >= 60) return fmt::format("{}m{:02}s", t / 60, t % 60);
  return fmt::format("{}s", t);
}

// Bytes, percentage, rate and ETA; redrawn in place on a terminal, one final line otherwise.
class ByteProgress {
 public:
  ByteProgress(std::string label, int64_t total, int64_t start)
      : label_(std::move(label)), total_(total), start_(start), tty_(isatty(STDERR_FILENO)), t0_(clock::now()) {}

  void update(int64_t done, bool final = false) {
    const auto now = clock::now();
    if (!final && (!tty_ || now - last_ < std::chrono::milliseconds(200))) return;
    last_ = now;
    const double secs = std::chrono::duration<double>(now - t0_).count();
    const double rate = secs > 0 ? double(done - start_) / secs : 0;
    std::string line;
    if (total_ > 0) {
      const double frac = std::min(1.0, double(done) / double(total_));
      const int width = 24, filled = int(frac * width);
      line = fmt::format("{} [{}{}] {:5.1f}% {}/{} {}/s ETA {}", label_, std::string(filled, '#'), std::string(width - filled, '.'),
                         100 * frac, human_bytes(double(done)), human_bytes(double(total_)), human_bytes(rate),
                         rate > 0 ? human_seconds(double(total_ - done) / rate) : "--");
    } else {
      line = fmt::format("{} {} {}/s", label_, human_bytes(double(done)), human_bytes(rate));
    }
    if (tty_) fmt::print(stderr, "\r\x1b[2K{}", line);
    else if (final) fmt::print(stderr, "{}\n", line);
    if (tty_ && final) fmt::print(stderr, "\n");
  }

 private:
  using clock = std::chrono::steady_clock;
  std::string label_;
  int64_t total_, start_;
  bool tty_;
  clock::time_point t0_, last_{};
};

struct Sink {
  std::FILE* file = nullptr;
  int64_t written = 0;  // bytes in the file, including the resumed part
  int64_t fetched = 0;
  ByteProgress* progress = nullptr;
  long status = 0;
  bool refused = false;  // an error status: the body is an error page, not file bytes
  CURL* curl = nullptr;
};

size_t write_part(char* data, size_t size, size_t n, void* user) {
  auto* s = static_cast<Sink*>(user);
  if (s->status == 0) curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &s->status);
  if (s->status != 200 && s->status != 206) {
    s->refused = true;
    return size * n;  // swallow the error page
  }
  if (std::fwrite(data, size, n, s->file) != n) return 0;
  s->written += int64_t(size * n);
  s->fetched += int64_t(size * n);
  if (s->progress) s->progress->update(s->written);
  return size * n;
}

size_t append(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

}  // namespace

std::string host_of(const std::string& url) {
  size_t start = url.find("://");
  start = start == std::string::npos ? 0 : start + 3;
  const size_t end = url.find('/', start);
  return url.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

HttpResponse http_get(const std::string& url, const std::string& bearer_token) {
  Curl curl = new_session(url);
  const Headers headers = auth_headers(curl.get(), bearer_token);
  HttpResponse r;
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, append);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT, 120L);
  const CURLcode code = curl_easy_perform(curl.get());
  if (code != CURLE_OK) fail("cannot reach {}: {}", host_of(url), curl_easy_strerror(code));
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &r.status);
  return r;
}

DownloadResult download_file(const DownloadRequest& req) {
  const fs::path part = fs::path(req.dest.string() + ".part");
  fs::create_directories(req.dest.parent_path());
  DownloadResult result;
  ByteProgress* bar = nullptr;
  std::unique_ptr<ByteProgress> bar_owner;
  // An interrupted transfer is resumed from the .part a few times before giving up; a later
  // `dragon pull` of the same model resumes it again.
  for (int attempt = 0;; ++attempt) {
    const int64_t have = fs::exists(part) ? int64_t(fs::file_size(part)) : 0;
    if (attempt == 0) result.resumed_from = have;
    if (req.size >= 0 && have > req.size) fs::remove(part);  // not ours: start over
    const int64_t start = fs::exists(part) ? have : 0;
    if (!bar_owner) bar_owner = std::make_unique<ByteProgress>(req.label, req.size, start), bar = bar_owner.get();
    if (req.size >= 0 && start == req.size) break;  // everything already here; verify below

    std::FILE* f = std::fopen(part.c_str(), start > 0 ? "ab" : "wb");
    if (!f) fail("{}: cannot write", part.string());
    Curl curl = new_session(req.url);
    const Headers headers = auth_headers(curl.get(), req.bearer_token);
    Sink sink{f, start, 0, bar, 0, false, curl.get()};
    curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, write_part);
    curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &sink);
    if (start > 0) curl_easy_setopt(curl.get(), CURLOPT_RESUME_FROM_LARGE, curl_off_t(start));
    const CURLcode code = curl_easy_perform(curl.get());
    std::fclose(f);
    result.fetched += sink.fetched;
    long status = sink.status;
    if (status == 0) curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
    if (code != CURLE_OK && is_connection_failure(code) && sink.fetched == 0)
      fail("cannot reach {}: {}", host_of(req.url), curl_easy_strerror(code));
    if (start > 0 && status == 200 && code == CURLE_OK) {
      // The server ignored the Range and sent the whole file after our bytes: start clean.
      fs::remove(part);
      if (attempt < 3) continue;
      fail("{}: the server does not honour resumed downloads", req.url);
    }
    if (sink.refused || (status != 200 && status != 206 && code == CURLE_OK))
      fail("{}: HTTP {}", req.url, status);
    if (code == CURLE_OK) break;
    if (attempt >= 3)
      fail("{}: download interrupted after {} bytes ({}); run the same command again to resume", req.url, sink.written,
           curl_easy_strerror(code));
    fmt::print(stderr, "\n{}: interrupted at {} bytes ({}), resuming\n", req.label, sink.written, curl_easy_strerror(code));
  }
  const int64_t got = int64_t(fs::file_size(part));
  bar->update(got, true);
  if (req.size >= 0 && got != req.size) {
    fs::remove(part);
    fail("{}: expected {} bytes, received {}; the partial file was removed", req.dest.string(), req.size, got);
  }
  if (!req.sha256.empty()) {
    const std::string actual = sha256_file(part);
    if (actual != req.sha256) {
      fs::remove(part);
      fail("{}: sha256 mismatch (expected {}, got {}); the download was discarded", req.dest.string(), req.sha256, actual);
    }
  }
  fs::rename(part, req.dest);
  return result;
}

}  // namespace dragon::hub
