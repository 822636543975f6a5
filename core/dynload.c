/* Loading libcurl, libcrypto, libqrencode and libpq on first use; see
 * dynload.h.
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
/* Sanitizer builds link libcurl, libcrypto and libpq (see core/meson.build). */
#include <openssl/hmac.h>

int curl_api_load(struct curl_api *api, struct mfa_error *err)
{
	*api = (struct curl_api){ curl_global_init,   curl_easy_init,	 curl_easy_setopt,
				  curl_easy_perform,  curl_easy_getinfo, curl_easy_cleanup,
				  curl_easy_strerror, curl_slist_append, curl_slist_free_all };
	return 0;
}

int crypto_api_load(struct crypto_api *api)
{
	*api = (struct crypto_api){ EVP_sha256, HMAC };
	return 0;
}

int pq_api_load(struct pq_api *api, struct mfa_error *err)
{
	(void)err;
	*api = (struct pq_api){
		PQconnectStartParams,
		PQconnectPoll,
		PQstatus,
		PQsocket,
		PQerrorMessage,
		PQfinish,
		PQsetnonblocking,
		PQsendQueryParams,
		PQsendQuery,
		PQtransactionStatus,
		PQflush,
		PQconsumeInput,
		PQisBusy,
		PQgetResult,
		PQresultStatus,
		PQresultErrorField,
		PQresultErrorMessage,
		PQntuples,
		PQnfields,
		PQgetvalue,
		PQgetisnull,
		PQclear,
		PQsetNoticeProcessor,
		PQconninfoParse,
		PQconninfoFree,
	};
	return 0;
}
#else
int curl_api_load(struct curl_api *api, struct mfa_error *err)
{
	void *h = load(LIBCURL_SONAME);
	bool ok;

	if (h == NULL) {
		mfa_error_set(err, "cannot load %s, which sends mail and text messages: %s",
			      LIBCURL_SONAME, dlerror());
		return -ENOENT;
	}
	ok = BIND(h, api->global_init, "curl_global_init") &&
	     BIND(h, api->easy_init, "curl_easy_init") &&
	     BIND(h, api->easy_setopt, "curl_easy_setopt") &&
	     BIND(h, api->easy_perform, "curl_easy_perform") &&
	     BIND(h, api->easy_getinfo, "curl_easy_getinfo") &&
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

int pq_api_load(struct pq_api *api, struct mfa_error *err)
{
	void *h = load(LIBPQ_SONAME);
	bool ok;

	if (h == NULL) {
		mfa_error_set(err, "cannot load %s, which the postgresql store needs: %s",
			      LIBPQ_SONAME, dlerror());
		return -ENOENT;
	}
	ok = BIND(h, api->connect_start_params, "PQconnectStartParams") &&
	     BIND(h, api->connect_poll, "PQconnectPoll") && BIND(h, api->status, "PQstatus") &&
	     BIND(h, api->socket, "PQsocket") && BIND(h, api->error_message, "PQerrorMessage") &&
	     BIND(h, api->finish, "PQfinish") &&
	     BIND(h, api->set_nonblocking, "PQsetnonblocking") &&
	     BIND(h, api->send_query_params, "PQsendQueryParams") &&
	     BIND(h, api->send_query, "PQsendQuery") &&
	     BIND(h, api->transaction_status, "PQtransactionStatus") &&
	     BIND(h, api->flush, "PQflush") && BIND(h, api->consume_input, "PQconsumeInput") &&
	     BIND(h, api->is_busy, "PQisBusy") && BIND(h, api->get_result, "PQgetResult") &&
	     BIND(h, api->result_status, "PQresultStatus") &&
	     BIND(h, api->result_error_field, "PQresultErrorField") &&
	     BIND(h, api->result_error_message, "PQresultErrorMessage") &&
	     BIND(h, api->ntuples, "PQntuples") && BIND(h, api->nfields, "PQnfields") &&
	     BIND(h, api->get_value, "PQgetvalue") && BIND(h, api->get_is_null, "PQgetisnull") &&
	     BIND(h, api->set_notice_processor, "PQsetNoticeProcessor") &&
	     BIND(h, api->conninfo_parse, "PQconninfoParse") &&
	     BIND(h, api->conninfo_free, "PQconninfoFree") && BIND(h, api->clear, "PQclear");
	(void)dlclose(h); /* RTLD_NODELETE: it stays loaded */
	if (!ok) {
		mfa_error_set(err, "%s lacks a function pam_mfa needs", LIBPQ_SONAME);
		return -ENOENT;
	}
	return 0;
}
#endif
