/* Loading libcurl, libcrypto and libqrencode on first use; see dynload.h.
 * RTLD_NODELETE keeps a library once loaded, as if it had been linked, so
 * that nothing of ours holds a handle: the module keeps no global state. */
#include <dlfcn.h>
#include <errno.h>
#include <string.h>

#include "dynload.h"

static void *load(const char *soname)
{
	return dlopen(soname, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
}

/* dlsym() into a function pointer: POSIX guarantees the conversion. */
#define BIND(h, field, name) (*(void **)(&(field)) = dlsym((h), (name)))

int qr_api_load(struct qr_api *api)
{
	void *h = load(LIBQRENCODE_SONAME);
	bool ok;

	if (h == NULL)
		return -ENOENT;
	ok = BIND(h, api->encode_string, "QRcode_encodeString") &&
	     BIND(h, api->free, "QRcode_free");
	(void)dlclose(h); /* RTLD_NODELETE: it stays loaded */
	return ok ? 0 : -ENOENT;
}

#ifdef PAM_MFA_LINK_LAZY_LIBS
/* Sanitizer builds link libcurl and libcrypto (see core/meson.build). */
#include <openssl/hmac.h>

int curl_api_load(struct curl_api *api, struct mfa_error *err)
{
	*api = (struct curl_api){ curl_global_init,  curl_easy_init,	 curl_easy_setopt,
				  curl_easy_perform, curl_easy_cleanup,	 curl_easy_strerror,
				  curl_slist_append, curl_slist_free_all };
	return 0;
}

int crypto_api_load(struct crypto_api *api)
{
	*api = (struct crypto_api){ EVP_sha256, HMAC };
	return 0;
}
#else
int curl_api_load(struct curl_api *api, struct mfa_error *err)
{
	void *h = load(LIBCURL_SONAME);
	bool ok;

	if (h == NULL) {
		mfa_error_set(err, "cannot load %s, which sends the mail: %s", LIBCURL_SONAME,
			      dlerror());
		return -ENOENT;
	}
	ok = BIND(h, api->global_init, "curl_global_init") &&
	     BIND(h, api->easy_init, "curl_easy_init") &&
	     BIND(h, api->easy_setopt, "curl_easy_setopt") &&
	     BIND(h, api->easy_perform, "curl_easy_perform") &&
	     BIND(h, api->easy_cleanup, "curl_easy_cleanup") &&
	     BIND(h, api->easy_strerror, "curl_easy_strerror") &&
	     BIND(h, api->slist_append, "curl_slist_append") &&
	     BIND(h, api->slist_free_all, "curl_slist_free_all");
	(void)dlclose(h); /* RTLD_NODELETE: it stays loaded */
	if (!ok) {
		mfa_error_set(err, "%s lacks a function pam_mfa needs", LIBCURL_SONAME);
		return -ENOENT;
	}
	return 0;
}

int crypto_api_load(struct crypto_api *api)
{
	void *h = load(LIBCRYPTO_SONAME);
	bool ok;

	if (h == NULL)
		return -ENOENT;
	ok = BIND(h, api->sha256, "EVP_sha256") && BIND(h, api->hmac, "HMAC");
	(void)dlclose(h); /* RTLD_NODELETE: it stays loaded */
	return ok ? 0 : -ENOENT;
}
#endif
