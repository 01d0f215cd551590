// The price of a million tokens on this machine, beside vendors' list prices.
//
// The machine costs a fixed amount per hour while it runs (a rented server's hourly rate, or
// the electricity: watts x $/kWh). At a measured throughput of t tokens/s it produces
// t * 3600 tokens per hour, so a million tokens cost usd_per_hour / (t * 3600) * 1e6.
// Prompt tokens (prefill, compute-bound, batched) and generated tokens (decode, bandwidth-bound)
// are priced from their own throughputs, as vendors price input and output separately.
//
// Break-even: a machine kept on all month costs usd_per_hour * 730 whatever it serves; a vendor
// charges per token. With a traffic mix of `input_share` prompt tokens, the vendor's blended
// price is input_share * in + (1 - input_share) * out per Mtok, and the monthly volume at which
// both cost the same is monthly_cost / blended. The machine can serve only so much in a month
// (its capacity at that mix); a break-even above the capacity is never reached.
#pragma once

#include <string>
#include <vector>

namespace dragon::eval {

struct VendorPrice {
  std::string vendor, model;
  double input_usd_per_mtok = 0, output_usd_per_mtok = 0;
  std::string date;    // when this price applied (YYYY-MM-DD)
  std::string source;  // URL
  std::string note;
};

// data/vendor_prices.json: {"prices": [{vendor, model, input_usd_per_mtok, output_usd_per_mtok,
// date, source, note?}, ...]}. Throws dragon::Error naming the file and the entry at fault.
std::vector<VendorPrice> load_vendor_prices(const std::string& path);

constexpr double kHoursPerMonth = 730.0;  // 365 * 24 / 12

double usd_per_hour_from_power(double watts, double usd_per_kwh);
double usd_per_mtok(double usd_per_hour, double tokens_per_second);
double blended_usd_per_mtok(double input_usd, double output_usd, double input_share);
// Million tokens a month the machine serves at the mix, running all month.
double capacity_mtok_per_month(double prompt_tokens_per_s, double output_tokens_per_s, double input_share);
// Million tokens a month at which the machine's monthly cost equals the vendor's bill.
double break_even_mtok_per_month(double usd_per_hour, double vendor_blended_usd_per_mtok);

}  // namespace dragon::eval
