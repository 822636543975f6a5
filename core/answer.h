/* What users type at a code prompt, made into a code: the one place that
 * reads an answer, for the module, the enrollment and mfa-setup alike. */
#ifndef PAM_MFA_ANSWER_H
#define PAM_MFA_ANSWER_H

/* The longest answer examined; anything longer is refused unread. */
#define CODE_INPUT_MAX 64

/* Turns a typed answer into a code: drops the spaces apps show inside
 * codes; an overlong answer becomes one that can never verify.  out must
 * hold CODE_INPUT_MAX + 1 bytes. */
void code_from_answer(const char *answer, char *out);

#endif
