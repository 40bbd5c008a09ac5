/* The httpd/APR surface that the Rust side binds to (through bindgen), plus
 * the few helpers that exist only as C macros or static inline functions. */
#ifndef WSGI_SHIM_H
#define WSGI_SHIM_H

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_main.h"
#include "http_protocol.h"
#include "http_request.h"
#include "ap_mpm.h"
#include "ap_regex.h"
#include "util_filter.h"
#include "util_script.h"
#include "unixd.h"
#include "mpm_common.h"
#include "mod_auth.h"
#include "scoreboard.h"
#include "apr_buckets.h"
#include "apr_strings.h"
#include "apr_tables.h"
#include "apr_pools.h"
#include "apr_time.h"
#include "apr_thread_proc.h"

/* Brigade and bucket helpers that are macros in apr_buckets.h. */
apr_bucket_brigade *wsgi_shim_brigade_create(apr_pool_t *pool, conn_rec *c);
void wsgi_shim_brigade_append_transient(apr_bucket_brigade *bb, const char *data, apr_size_t len);
void wsgi_shim_brigade_append_flush(apr_bucket_brigade *bb);
void wsgi_shim_brigade_append_eos(apr_bucket_brigade *bb);
/* Appends `len` bytes of the open file `fd` from `offset` as file buckets
 * (split as APR needs for large files), reading through a duplicate of fd
 * that the pool closes. `sendfile` marks it APR_SENDFILE_ENABLED so the
 * core output filter may use sendfile(2). Returns 0, or -1 when fd cannot
 * be duplicated. */
int wsgi_shim_brigade_append_file(apr_bucket_brigade *bb, apr_pool_t *pool, int fd, apr_off_t offset, apr_off_t len,
                                  int sendfile);

/* The httpd release these headers describe ("2.4.71"): what mod_wsgi
 * reports as environ['apache.version']. */
const char *wsgi_shim_server_version(void);

/* Reads at most `len` bytes of request body through the input filters.
 * Returns the count read, 0 at end of body, or -1 with *status set; with
 * block == 0, -2 when no byte is available without waiting. */
long wsgi_shim_read_body_ex(request_rec *r, apr_bucket_brigade *bb, char *buf, apr_size_t len, int block, apr_status_t *status);

#endif
