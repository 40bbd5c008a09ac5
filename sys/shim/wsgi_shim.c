/* What only C can express of the httpd/APR surface: helpers over APR's
 * bucket macros and httpd's version macros. They carry no rule of the
 * module's own; everything else is in Rust (the command table is built
 * from core's list of directives in src/commands.rs). */
#include "wsgi_shim.h"

apr_bucket_brigade *wsgi_shim_brigade_create(apr_pool_t *pool, conn_rec *c)
{
    return apr_brigade_create(pool, c->bucket_alloc);
}

void wsgi_shim_brigade_append_transient(apr_bucket_brigade *bb, const char *data, apr_size_t len)
{
    apr_bucket *b = apr_bucket_transient_create(data, len, bb->bucket_alloc);
    APR_BRIGADE_INSERT_TAIL(bb, b);
}

void wsgi_shim_brigade_append_flush(apr_bucket_brigade *bb)
{
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_flush_create(bb->bucket_alloc));
}

void wsgi_shim_brigade_append_eos(apr_bucket_brigade *bb)
{
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(bb->bucket_alloc));
}

int wsgi_shim_brigade_append_file(apr_bucket_brigade *bb, apr_pool_t *pool, int fd, apr_off_t offset, apr_off_t len,
                                  int sendfile)
{
    apr_file_t *file = NULL;
    apr_file_t *dup = NULL;
    apr_os_file_t osfd = fd;
    apr_int32_t flags = APR_FOPEN_READ | (sendfile ? APR_SENDFILE_ENABLED : 0);
    if (apr_os_file_put(&file, &osfd, flags, pool) != APR_SUCCESS)
        return -1;
    /* The buckets may outlive the caller's hold on fd (a filter can set
     * them aside); the duplicate lives until the pool is cleared. */
    if (apr_file_dup(&dup, file, pool) != APR_SUCCESS)
        return -1;
    apr_brigade_insert_file(bb, dup, offset, len, pool);
    return 0;
}

const char *wsgi_shim_server_version(void)
{
    return AP_SERVER_BASEREVISION;
}

long wsgi_shim_read_body_ex(request_rec *r, apr_bucket_brigade *bb, char *buf, apr_size_t len, int block, apr_status_t *status)
{
    apr_size_t total = 0;
    *status = APR_SUCCESS;
    if (len == 0)
        return 0;
    apr_brigade_cleanup(bb);
    *status = ap_get_brigade(r->input_filters, bb, AP_MODE_READBYTES, block ? APR_BLOCK_READ : APR_NONBLOCK_READ, len);
    if (!block && APR_STATUS_IS_EAGAIN(*status)) {
        apr_brigade_cleanup(bb);
        return -2;
    }
    if (*status != APR_SUCCESS) {
        apr_brigade_cleanup(bb);
        return -1;
    }
    while (!APR_BRIGADE_EMPTY(bb)) {
        apr_bucket *b = APR_BRIGADE_FIRST(bb);
        const char *data;
        apr_size_t n;
        if (APR_BUCKET_IS_EOS(b)) {
            apr_bucket_delete(b);
            break;
        }
        *status = apr_bucket_read(b, &data, &n, APR_BLOCK_READ);
        if (*status != APR_SUCCESS) {
            apr_brigade_cleanup(bb);
            return -1;
        }
        if (n > len - total)
            n = len - total; /* AP_MODE_READBYTES never returns more */
        memcpy(buf + total, data, n);
        total += n;
        apr_bucket_delete(b);
        if (total == len)
            break;
    }
    apr_brigade_cleanup(bb);
    return (long)total;
}
