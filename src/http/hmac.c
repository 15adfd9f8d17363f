/*
 * hmac.c - webhook signature checking: HMAC-SHA256 of the raw request body
 * keyed with a shared secret, compared in constant time with the
 * "sha256=<hex>" value a git server sends (GitHub X-Hub-Signature-256, Gitea
 * and Forgejo X-Gitea-Signature / X-Forgejo-Signature as bare hex).
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#include "http/http.h"

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool kf_http_hmac_sha256_verify(const char *secret, const void *body,
				size_t len, const char *signature)
{
	unsigned char want[32], got[EVP_MAX_MD_SIZE];
	unsigned int gotlen = 0;
	const char *hex;
	size_t i;

	if (!secret || !*secret || !signature || (!body && len))
		return false;
	hex = kf_str_startswith(signature, "sha256=") ? signature + 7
						       : signature;
	if (strlen(hex) != 64)
		return false;
	for (i = 0; i < 32; i++) {
		int hi = hexval((unsigned char)hex[2 * i]);
		int lo = hexval((unsigned char)hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		want[i] = (unsigned char)(hi << 4 | lo);
	}
	if (!HMAC(EVP_sha256(), secret, (int)strlen(secret),
		  body ? body : (const void *)"", len, got, &gotlen) ||
	    gotlen != 32)
		return false;
	return CRYPTO_memcmp(want, got, 32) == 0;
}
