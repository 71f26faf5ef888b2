/* Fuzz target (d): random bytes as a payload file for the multiboot
 * loader, in memory.  An image the loader accepts is then started the
 * way nsvm starts one (multiboot_enter: 32-bit protected mode at its
 * entry point) and run bare for a short instruction budget. */
#include <stdlib.h>

#include "boot/multiboot.h"
#include "harness.h"

#define LOADER_RAM (8ull << 20)
#define BUDGET     2000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct machine_options opt = {
        .mem_size = LOADER_RAM,
        .serial_file = "/dev/null",
        .bare = true,
    };
    struct machine *m = calloc(1, sizeof(*m));
    struct mb_error err;

    if (!m || machine_init(m, &opt) != 0)
        abort();
    if (multiboot_load(m->ram, m->ram_size, data, size, "fuzz payload",
                       &m->image, &err) == MB_OK) {
        multiboot_enter(&m->cpu, &m->image);
        fm_run(m, BUDGET);
    }
    fm_free(m);
    return 0;
}
