/* placeholder, replaced below */
#include "libguest.h"
int main(void) { return 0; }
