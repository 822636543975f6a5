/* Checks that the built pam_mfa.so exports the PAM entry points and nothing
 * else: a daemon that dlopens several modules must not have our internal
 * functions interposed on, or interposing on, anyone else's.
 * Usage: test_exports PATH/TO/pam_mfa.so */
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

static const char *module_path;

static const char *const exported[] = {
	"pam_sm_authenticate",
	"pam_sm_setcred",
};

static const char *const internal[] = {
	"config_load",
	"config_free",
	"store_open",
	"store_begin",
	"store_commit",
	"store_load",
	"store_list",
	"store_summary",
	"store_verify_totp",
	"files_open",
	"files_begin",
	"files_commit",
	"files_load",
	"totp_verify",
	"totp_code_for_step",
	"record_parse",
	"record_format",
	"secure_wipe",
	"consttime_equal",
	"user_name_valid",
	"base32_decode",
	"base32_encode",
	"qr_render_text",
	"lockout_active",
	"lockout_record_failure",
	"open_trusted_file",
	"open_trusted_dir",
	"mfa_error_set",
	"parse_u64",
};

static void test_dlsym(void **state)
{
	void *h;

	(void)state;
	h = dlopen(module_path, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL)
		fail_msg("dlopen(%s): %s", module_path, dlerror());
	for (size_t i = 0; i < sizeof(exported) / sizeof(exported[0]); i++)
		if (dlsym(h, exported[i]) == NULL)
			fail_msg("%s is not exported", exported[i]);
	for (size_t i = 0; i < sizeof(internal) / sizeof(internal[0]); i++)
		if (dlsym(h, internal[i]) != NULL)
			fail_msg("the internal symbol %s is exported", internal[i]);
	assert_int_equal(dlclose(h), 0);
}

static bool is_exported_name(const char *name)
{
	for (size_t i = 0; i < sizeof(exported) / sizeof(exported[0]); i++)
		if (strcmp(name, exported[i]) == 0)
			return true;
	return false;
}

/* The list of internal names above can only name what we thought of; the
 * dynamic symbol table lists everything the module defines for others. */
static void test_dynsym_table(void **state)
{
	const Elf64_Ehdr *eh;
	const Elf64_Shdr *sh;
	struct stat sb;
	const char *base;
	size_t found = 0, dynsyms = 0;
	int fd;

	(void)state;
	fd = open(module_path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &sb), 0);
	assert_true((size_t)sb.st_size >= sizeof(Elf64_Ehdr));
	base = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	assert_true(base != MAP_FAILED);
	close(fd);
	eh = (const Elf64_Ehdr *)(const void *)base;
	assert_memory_equal(eh->e_ident, ELFMAG, SELFMAG);
	if (eh->e_ident[EI_CLASS] != ELFCLASS64) {
		(void)munmap((void *)(uintptr_t)base, (size_t)sb.st_size);
		skip();
	}
	assert_true(eh->e_shoff + (size_t)eh->e_shnum * sizeof(Elf64_Shdr) <= (size_t)sb.st_size);
	sh = (const Elf64_Shdr *)(const void *)(base + eh->e_shoff);
	for (unsigned i = 0; i < eh->e_shnum; i++) {
		const Elf64_Sym *syms;
		const char *strtab;
		size_t n;

		if (sh[i].sh_type != SHT_DYNSYM)
			continue;
		dynsyms++;
		assert_true(sh[i].sh_link < eh->e_shnum);
		syms = (const Elf64_Sym *)(const void *)(base + sh[i].sh_offset);
		strtab = base + sh[sh[i].sh_link].sh_offset;
		n = sh[i].sh_size / sizeof(Elf64_Sym);
		for (size_t j = 0; j < n; j++) {
			const char *name = strtab + syms[j].st_name;
			unsigned bind = ELF64_ST_BIND(syms[j].st_info);
			unsigned vis = ELF64_ST_VISIBILITY(syms[j].st_other);

			if (syms[j].st_shndx == SHN_UNDEF || name[0] == '\0')
				continue;
			if (bind != STB_GLOBAL && bind != STB_WEAK && bind != STB_GNU_UNIQUE)
				continue;
			if (vis == STV_HIDDEN || vis == STV_INTERNAL)
				continue;
			if (!is_exported_name(name))
				fail_msg("%s exports %s", module_path, name);
			found++;
		}
	}
	(void)munmap((void *)(uintptr_t)base, (size_t)sb.st_size);
	assert_int_equal(dynsyms, 1);
	assert_int_equal(found, sizeof(exported) / sizeof(exported[0]));
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dlsym),
		cmocka_unit_test(test_dynsym_table),
	};

	if (argc != 2) {
		fprintf(stderr, "usage: %s PATH/TO/pam_mfa.so\n", argv[0]);
		return 2;
	}
	module_path = argv[1];
	return cmocka_run_group_tests_name("exports", tests, NULL, NULL);
}
