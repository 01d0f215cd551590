#include "eval/cost.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <limits>

#include "util/error.h"

namespace dragon::eval {

std::vector<VendorPrice> load_vendor_prices(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail("{}: cannot open the vendor price list", path);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    fail("{}: invalid JSON: {}", path, e.what());
  }
  if (!j.is_object() || !j.contains("prices") || !j["prices"].is_array()) fail("{}: want {{\"prices\": [...]}}", path);
  std::vector<VendorPrice> out;
  for (size_t i = 0; i < j["prices"].size(); ++i) {
    const nlohmann::json& e = j["prices"][i];
    const std::string where = fmt::format("{}: prices[{}]", path, i);
    try {
      VendorPrice p;
      p.vendor = e.at("vendor").get<std::string>();
      p.model = e.at("model").get<std::string>();
      p.input_usd_per_mtok = e.at("input_usd_per_mtok").get<double>();
      p.output_usd_per_mtok = e.at("output_usd_per_mtok").get<double>();
      p.date = e.at("date").get<std::string>();
      p.source = e.at("source").get<std::string>();
      p.note = e.value("note", "");
      if (p.input_usd_per_mtok < 0 || p.output_usd_per_mtok < 0) fail("{}: negative price", where);
      out.push_back(std::move(p));
    } catch (const nlohmann::json::exception& ex) {
      fail("{}: {} (want vendor, model, input_usd_per_mtok, output_usd_per_mtok, date, source)", where, ex.what());
    }
  }
  return out;
}

double usd_per_hour_from_power(double watts, double usd_per_kwh) { return watts / 1000.0 * usd_per_kwh; }

double usd_per_mtok(double usd_per_hour, double tokens_per_second) {
  if (tokens_per_second <= 0) return std::numeric_limits<double>::infinity();
  return usd_per_hour / (tokens_per_second * 3600.0) * 1e6;
}

double blended_usd_per_mtok(double input_usd, double output_usd, double input_share) {
  return input_share * input_usd + (1.0 - input_share) * output_usd;
}

double capacity_mtok_per_month(double prompt_tokens_per_s, double output_tokens_per_s, double input_share) {
  if (prompt_tokens_per_s <= 0 || output_tokens_per_s <= 0) return 0.0;
  // Seconds one million tokens of the mix take: its prompt part at prefill speed, the rest at decode speed.
  const double seconds_per_mtok = 1e6 * (input_share / prompt_tokens_per_s + (1.0 - input_share) / output_tokens_per_s);
  return kHoursPerMonth * 3600.0 / seconds_per_mtok;
}

double break_even_mtok_per_month(double usd_per_hour, double vendor_blended_usd_per_mtok) {
  if (vendor_blended_usd_per_mtok <= 0) return std::numeric_limits<double>::infinity();
  return usd_per_hour * kHoursPerMonth / vendor_blended_usd_per_mtok;
}

}  // namespace dragon::eval
