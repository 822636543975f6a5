/* Typed answers made into codes; see answer.h. */
#include <string.h>

#include "answer.h"

void code_from_answer(const char *answer, char *out)
{
	size_t o = 0;

	if (answer == NULL || strnlen(answer, CODE_INPUT_MAX + 1) > CODE_INPUT_MAX) {
		memcpy(out, "x", 2);
		return;
	}
	for (const char *p = answer; *p != '\0'; p++)
		if (*p != ' ')
			out[o++] = *p;
	out[o] = '\0';
}
