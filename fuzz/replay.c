/*
 * replay.c — runs a fuzz target once on each input given: files, or every
 * file in the directories given. The regression tests (ctest) replay
 * fuzz/regressions/TARGET and fuzz/corpus/TARGET this way, in every build.
 */
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "replay: cannot open %s\n", path);
		return 1;
	}
	unsigned char *data = NULL;
	size_t n = 0, cap = 0, got;
	do {
		if (cap - n < 65536) {
			cap = cap ? cap * 2 : 65536;
			unsigned char *p = realloc(data, cap);
			if (!p) {
				fclose(f);
				free(data);
				return 1;
			}
			data = p;
		}
		got = fread(data + n, 1, cap - n, f);
		n += got;
	} while (got);
	fclose(f);
	LLVMFuzzerTestOneInput(data, n);
	free(data);
	return 0;
}

int main(int argc, char **argv)
{
	int bad = 0, runs = 0;
	for (int i = 1; i < argc; i++) {
		struct stat sb;
		if (stat(argv[i], &sb) != 0) {
			fprintf(stderr, "replay: no such input %s\n", argv[i]);
			return 1;
		}
		if (!S_ISDIR(sb.st_mode)) {
			bad |= run_file(argv[i]);
			runs++;
			continue;
		}
		DIR *d = opendir(argv[i]);
		struct dirent *e;
		while (d && (e = readdir(d))) {
			char path[4096];
			if (e->d_name[0] == '.' || !strcmp(e->d_name, "README.md"))
				continue;
			snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
			bad |= run_file(path);
			runs++;
		}
		if (d)
			closedir(d);
	}
	printf("replay: %d inputs\n", runs);
	return bad;
}
