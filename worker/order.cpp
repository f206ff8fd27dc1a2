#include "worker/order.h"

#include <algorithm>
#include <numeric>

namespace autotune::bench {

std::vector<const Workload*> smallest_first(const std::vector<Workload>& workloads) {
  std::vector<const Workload*> order;
  for (const auto& w : workloads) order.push_back(&w);
  std::stable_sort(order.begin(), order.end(),
                   [](const Workload* a, const Workload* b) { return a->flops() < b->flops(); });
  return order;
}

std::vector<std::size_t> race_order(const std::vector<std::string>& ids,
                                    const std::map<std::string, double>& previous) {
  std::vector<std::size_t> order(ids.size());
  std::iota(order.begin(), order.end(), 0);
  auto key = [&](std::size_t i) {
    const auto it = previous.find(ids[i]);
    return it == previous.end() ? 0.0 : it->second;
  };
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return key(a) < key(b); });
  return order;
}

double fastest_median(const std::map<std::string, double>& medians) {
  double best = 0;
  for (const auto& [id, ms] : medians)
    if (best == 0 || ms < best) best = ms;
  return best;
}

}  // namespace autotune::bench
