/* What boot.S copied out of the multiboot information structure. */
#include "internal.h"

#define MB_INFO_MEM (1u << 0)

extern uint32_t mb_flags, mb_mem_upper;
extern char mb_cmdline[];

const char *multiboot_cmdline(void)
{
	return mb_cmdline;
}

uint64_t multiboot_mem_upper_kb(void)
{
	return (mb_flags & MB_INFO_MEM) ? mb_mem_upper : 0;
}

static const char *skip_word(const char *p)
{
	while (*p && *p != ' ')
		p++;
	while (*p == ' ')
		p++;
	return p;
}

bool cmdline_get_u64(const char *key, uint64_t *val)
{
	size_t klen = strlen(key);
	const char *p = skip_word(mb_cmdline);  /* argv[0] is the path */

	for (; *p; p = skip_word(p)) {
		if (!strncmp(p, key, klen) && p[klen] == '=') {
			*val = strtou64(p + klen + 1, NULL, 0);
			return true;
		}
	}
	return false;
}
