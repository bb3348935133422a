// C++ on the TLSF heap: a static object whose constructor allocates (checked in main, so it must have run
// before main), new/delete, new[]/delete[], an over-aligned type, nothrow new that fails, deletion through
// a virtual destructor, and a static destructor that prints at exit. The heap's own figures prove each
// allocation went to the TLSF heap and each delete gave it back.
#include <cstdint>
#include <cstdio>
#include <new>

#include "tlsf_sim.h"

static std::uint32_t heap_used() {
  tlsf_sim_heap_info_t info;
  tlsf_sim_heap_info(&info);
  return info.used;
}

class Squares {
 public:
  explicit Squares(int count) : count_(count), values_(new int[count]) {
    for (int i = 0; i < count_; i++) values_[i] = i * i;
  }
  ~Squares() {
    delete[] values_;
    std::printf("static destructor ran\n");
  }
  int at(int index) const { return values_[index]; }
  int count() const { return count_; }

 private:
  int count_;
  int *values_;
};

static Squares squares(12);

struct Shape {
  virtual ~Shape() { destroyed++; }
  virtual int corners() const = 0;
  static int destroyed;
};
int Shape::destroyed = 0;

struct Triangle : Shape {
  int corners() const override { return 3; }
  ~Triangle() override { destroyed += 10; }
};

struct alignas(64) CacheLine {
  unsigned char bytes[64];
};

int main() {
  TLSF_SIM_ASSERT(squares.count() == 12 && squares.at(11) == 121);

  const std::uint32_t before = heap_used();
  Shape *shape = new Triangle;
  TLSF_SIM_ASSERT(heap_used() > before);
  TLSF_SIM_ASSERT(shape->corners() == 3);
  delete shape;
  TLSF_SIM_ASSERT(Shape::destroyed == 11);
  TLSF_SIM_ASSERT(heap_used() == before);

  long *numbers = new long[100];
  for (int i = 0; i < 100; i++) numbers[i] = i;
  TLSF_SIM_ASSERT(heap_used() >= before + 100 * sizeof(long));
  delete[] numbers;

  CacheLine *line = new CacheLine;
  TLSF_SIM_ASSERT(reinterpret_cast<std::uintptr_t>(line) % 64 == 0);
  delete line;

  char *huge = new (std::nothrow) char[0x10000000];
  TLSF_SIM_ASSERT(huge == nullptr);
  TLSF_SIM_ASSERT(heap_used() == before);

  std::printf("c++: static constructor %d squares, virtual delete %d, heap back to %lu bytes\n", squares.count(),
              Shape::destroyed, static_cast<unsigned long>(heap_used()));
  return 0;
}
