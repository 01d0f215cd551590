// HTTP for the hub over libcurl: small GETs (file lists) and resumable file downloads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace dragon::hub {

struct HttpResponse {
  long status = 0;
  std::string body;
};

// GET `url`; follows redirects. Throws dragon::Error "cannot reach HOST: REASON" when the
// connection itself fails; HTTP error statuses are returned for the caller to explain.
// `bearer_token`, when set, goes out as "Authorization: Bearer ..." (gated / private repositories);
// libcurl drops it on a redirect to another host, so a CDN never sees it.
HttpResponse http_get(const std::string& url, const std::string& bearer_token = "");

struct DownloadRequest {
  std::string url;
  std::filesystem::path dest;   // the finished file; bytes go to dest + ".part" until complete
  int64_t size = -1;            // expected size when the hub says it (-1: unknown)
  std::string sha256;           // expected lowercase hex; empty: not checked
  std::string label;            // shown on the progress bar
  std::string bearer_token;     // see http_get
};

struct DownloadResult {
  int64_t resumed_from = 0;  // bytes already in the .part file, not fetched again
  int64_t fetched = 0;       // bytes received over the network
};

// Downloads into dest.part, continuing an existing .part with an HTTP Range request, checks the
// size and sha256, then renames to dest. On a hash mismatch the .part is deleted and nothing is
// left at dest. Draws a progress bar (bytes, rate, ETA) on stderr.
DownloadResult download_file(const DownloadRequest& req);

// "huggingface.co" from "https://huggingface.co/api/...".
std::string host_of(const std::string& url);

}  // namespace dragon::hub
