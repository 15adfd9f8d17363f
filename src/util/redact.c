/*
 * redact.c - keep secrets out of logs and messages.
 *
 * Two defences. Values that kfboot knows are secret (bootstrap tokens it
 * created, bearer tokens and passwords it loaded) are registered and replaced
 * wherever they appear. Independently, well-known secret shapes are masked
 * even when nobody registered them: kubeadm bootstrap tokens, bearer
 * authorization headers, `token:`/`password:`-style key/value pairs,
 * --token/--password flags, base64 key data in kubeconfigs, and PEM private
 * key blocks.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define REDACTED "[REDACTED]"

static pthread_mutex_t secrets_lock = PTHREAD_MUTEX_INITIALIZER;
static char **secrets;
static size_t nsecrets, secrets_alloc;

void kf_redact_register(const char *secret)
{
	if (!secret || strlen(secret) < 4)
		return;
	pthread_mutex_lock(&secrets_lock);
	for (size_t i = 0; i < nsecrets; i++) {
		if (!strcmp(secrets[i], secret)) {
			pthread_mutex_unlock(&secrets_lock);
			return;
		}
	}
	kf_xgrow((void **)&secrets, &secrets_alloc, nsecrets + 1, sizeof(*secrets));
	secrets[nsecrets++] = kf_xstrdup(secret);
	pthread_mutex_unlock(&secrets_lock);
}

void kf_redact_clear(void)
{
	pthread_mutex_lock(&secrets_lock);
	for (size_t i = 0; i < nsecrets; i++)
		free(secrets[i]);
	free(secrets);
	secrets = NULL;
	nsecrets = secrets_alloc = 0;
	pthread_mutex_unlock(&secrets_lock);
}

/* Replace every occurrence of needle in *s (a heap string). */
static void replace_all(char **s, const char *needle)
{
	struct kf_buf b = KF_BUF_INIT;
	size_t n = strlen(needle);
	const char *p = *s, *hit;

	if (!strstr(p, needle))
		return;
	while ((hit = strstr(p, needle))) {
		kf_buf_add(&b, p, (size_t)(hit - p));
		kf_buf_adds(&b, REDACTED);
		p = hit + n;
	}
	kf_buf_adds(&b, p);
	free(*s);
	*s = kf_buf_detach(&b, NULL);
}

static bool is_tok(int c)
{
	return isalnum(c) != 0;
}

/* kubeadm bootstrap token: [a-z0-9]{6}.[a-z0-9]{16} */
static size_t bootstrap_token_at(const char *p)
{
	size_t i;

	for (i = 0; i < 6; i++)
		if (!(islower((unsigned char)p[i]) || isdigit((unsigned char)p[i])))
			return 0;
	if (p[6] != '.')
		return 0;
	for (i = 7; i < 23; i++)
		if (!(islower((unsigned char)p[i]) || isdigit((unsigned char)p[i])))
			return 0;
	return is_tok((unsigned char)p[23]) ? 0 : 23;
}

/* Keys whose values are secret, matched case-insensitively right before
 * a ':', '=' or whitespace separator. */
static const char *const secret_keys[] = {
	"token", "password", "passwd", "secret", "client-key-data",
	"authorization", "api-key", "apikey", "private-key",
};

static size_t key_at(const char *s, size_t i, size_t *keylen)
{
	if (i > 0 && (is_tok((unsigned char)s[i - 1]) || s[i - 1] == '_'))
		return 0;
	for (size_t k = 0; k < KF_ARRAY_SIZE(secret_keys); k++) {
		size_t n = strlen(secret_keys[k]);

		if (!strncasecmp(s + i, secret_keys[k], n)) {
			*keylen = n;
			return 1;
		}
	}
	return 0;
}

static char *mask_shapes(const char *s)
{
	struct kf_buf b = KF_BUF_INIT;
	size_t i = 0, len = strlen(s);

	while (i < len) {
		size_t n, keylen;

		if (!strncmp(s + i, "-----BEGIN ", 11)) {
			const char *end = strstr(s + i, "-----END ");
			const char *line_end = strstr(s + i + 11, "-----");
			bool priv = line_end && memmem(s + i, (size_t)(line_end - (s + i)),
						      "PRIVATE KEY", 11);
			if (priv) {
				kf_buf_adds(&b, REDACTED);
				if (end && (end = strstr(end + 9, "-----")))
					i = (size_t)(end + 5 - s);
				else
					i = len;
				continue;
			}
		}
		if ((i == 0 || !is_tok((unsigned char)s[i - 1])) &&
		    (n = bootstrap_token_at(s + i))) {
			kf_buf_adds(&b, REDACTED);
			i += n;
			continue;
		}
		if (key_at(s, i, &keylen)) {
			size_t j = i + keylen;
			/* allow a suffix like "_hash" to stay visible: only a
			 * separator right after the key counts */
			if (j < len && (s[j] == '"' || s[j] == '\''))
				j++;
			bool flag = i >= 2 && s[i - 1] == '-' && s[i - 2] == '-';

			if (j < len && (s[j] == ':' || s[j] == '=' || (flag && s[j] == ' '))) {
				size_t v;

				j++;
				while (j < len && (s[j] == ' ' || s[j] == '"' || s[j] == '\''))
					j++;
				/* "Bearer xyz": keep the word, hide what follows */
				if (!strncasecmp(s + j, "bearer ", 7))
					j += 7;
				v = j;
				while (v < len && !strchr(" \t\r\n\"',;&}", s[v]))
					v++;
				if (v > j) {
					kf_buf_add(&b, s + i, j - i);
					kf_buf_adds(&b, REDACTED);
					i = v;
					continue;
				}
			}
		}
		kf_buf_addch(&b, s[i]);
		i++;
	}
	return kf_buf_detach(&b, NULL);
}

char *kf_redact(const char *s)
{
	char *out;

	if (!s)
		return kf_xstrdup("");
	out = mask_shapes(s);
	pthread_mutex_lock(&secrets_lock);
	for (size_t i = 0; i < nsecrets; i++)
		replace_all(&out, secrets[i]);
	pthread_mutex_unlock(&secrets_lock);
	return out;
}
