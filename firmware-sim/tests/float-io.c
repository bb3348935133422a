/*
 * Numbers printed with %g and read back with strtod and sscanf, as JSON libraries round-trip them.
 * newlib-nano formats floating point only when _printf_float and _scanf_float are linked (`tlsf-sim build`
 * does unless --no-float-io): without them %g prints nothing and this program reports which numbers were
 * lost and exits 1.
 */
#include <stdio.h>
#include <stdlib.h>

static const double values[] = {0.1, -2.5e-7, 3.141592653589793, 1e300, 6.02214076e23, 42.0, -0.0};

int main(void) {
  const int count = (int)(sizeof values / sizeof values[0]);
  int survived = 0;
  for (int i = 0; i < count; i++) {
    char text[40];
    snprintf(text, sizeof text, "%.17g", values[i]);
    char *end = text;
    double parsed = strtod(text, &end);
    double scanned = 0;
    int fields = sscanf(text, "%lg", &scanned);
    if (text[0] != '\0' && *end == '\0' && parsed == values[i] && fields == 1 && scanned == values[i]) {
      survived++;
    } else {
      printf("round trip failed for value %d: %%g printed \"%s\"\n", i, text);
    }
  }
  printf("float-io: %d of %d numbers survived %%g, strtod and sscanf\n", survived, count);
  return survived == count ? 0 : 1;
}
