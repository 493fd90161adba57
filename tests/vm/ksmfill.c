/* tests/vm/ksmfill: gives KSM something to merge in the VM agent suite.
 * Maps MiB (argument, default 16) of anonymous memory, fills every page
 * with the same bytes, marks it MADV_MERGEABLE and sleeps until killed. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	size_t len = (size_t)(argc > 1 ? atoi(argv[1]) : 16) << 20;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 1;
	memset(p, 0x5a, len);
	if (madvise(p, len, MADV_MERGEABLE) < 0)
		return 1;
	for (;;)
		pause();
}
