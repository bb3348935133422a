// C++ using a C module: orders are C++ objects made with new, the catalogue is C on malloc; both on the
// TLSF heap.
#include <cstdio>

#include "catalogue.h"
#include "tlsf_sim.h"

namespace {

class Order {
 public:
  Order(const char *part, unsigned quantity) : part_(part), quantity_(quantity) {}
  const char *part() const { return part_; }
  unsigned quantity() const { return quantity_; }

 private:
  const char *part_;
  unsigned quantity_;
};

}  // namespace

int main() {
  static const char *const parts[] = {"resistor", "capacitor", "inductor", "diode", "transistor", "crystal"};
  catalogue *stock = catalogue_create();
  TLSF_SIM_ASSERT(stock != nullptr);
  unsigned expected = 0;
  for (unsigned round = 0; round < 5; round++) {
    for (unsigned i = 0; i < sizeof parts / sizeof parts[0]; i++) {
      Order *order = new Order(parts[i], round * 10 + i);
      TLSF_SIM_ASSERT(catalogue_add(stock, order->part(), order->quantity()) == 0);
      expected += order->quantity();
      delete order;
    }
  }
  TLSF_SIM_ASSERT(catalogue_total(stock) == expected);
  std::printf("cmake example: %u items, %u parts in stock\n", static_cast<unsigned>(catalogue_count(stock)), expected);
  catalogue_destroy(stock);
  return 0;
}
