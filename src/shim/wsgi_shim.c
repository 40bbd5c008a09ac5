/* The parts of the module that only C can express: the AP_INIT_* command
 * table and helpers over APR's bucket macros. Everything else is in Rust. */
#include "wsgi_shim.h"

/* Every directive is parsed by one Rust function, which reads the directive
 * name from cmd->cmd->name; see src/config_hooks.rs. */
extern const char *wsgi_rs_directive(cmd_parms *cmd, void *mconfig, const char *args);

#define DIRECTIVE(name, where, help) \
    AP_INIT_RAW_ARGS(name, wsgi_rs_directive, NULL, where, help)

const command_rec wsgi_shim_commands[] = {
    DIRECTIVE("WSGIScriptAlias", RSRC_CONF, "Map location to target WSGI script file."),
    DIRECTIVE("WSGIScriptAliasMatch", RSRC_CONF, "Map location pattern to target WSGI script file."),
    DIRECTIVE("WSGIDaemonProcess", RSRC_CONF, "Specify details of daemon processes to start."),
    DIRECTIVE("WSGISocketPrefix", RSRC_CONF, "Path prefix for the daemon process sockets."),
    DIRECTIVE("WSGISocketRotation", RSRC_CONF, "Enable/Disable rotation of daemon process sockets."),
    DIRECTIVE("WSGIAcceptMutex", RSRC_CONF, "Set accept mutex type for daemon processes."),
    DIRECTIVE("WSGIVerboseDebugging", RSRC_CONF, "Enable/Disable verbose debugging messages."),
    DIRECTIVE("WSGIDontWriteBytecode", RSRC_CONF, "Enable/Disable writing of byte code."),
    DIRECTIVE("WSGIPythonWarnings", RSRC_CONF, "Control Python warning messages."),
    DIRECTIVE("WSGIPythonOptimize", RSRC_CONF, "Set level of Python compiler optimisations."),
    DIRECTIVE("WSGIPythonHome", RSRC_CONF, "Python prefix/exec_prefix absolute path names."),
    DIRECTIVE("WSGIPythonPath", RSRC_CONF, "Python module search path."),
    DIRECTIVE("WSGIPythonEggs", RSRC_CONF, "Python eggs cache directory."),
    DIRECTIVE("WSGIPythonHashSeed", RSRC_CONF, "Python hash seed."),
    DIRECTIVE("WSGIDestroyInterpreter", RSRC_CONF, "Enable/Disable destruction of Python interpreter."),
    DIRECTIVE("WSGIRestrictEmbedded", RSRC_CONF, "Enable/Disable use of embedded mode."),
    DIRECTIVE("WSGIRestrictStdin", RSRC_CONF, "Enable/Disable restrictions on use of STDIN."),
    DIRECTIVE("WSGIRestrictStdout", RSRC_CONF, "Enable/Disable restrictions on use of STDOUT."),
    DIRECTIVE("WSGIRestrictSignal", RSRC_CONF, "Enable/Disable restrictions on use of signal()."),
    DIRECTIVE("WSGICaseSensitivity", RSRC_CONF, "Define whether file system is case sensitive."),
    DIRECTIVE("WSGILazyInitialization", RSRC_CONF, "Enable/Disable lazy Python initialisation."),
    DIRECTIVE("WSGIRestrictProcess", ACCESS_CONF | RSRC_CONF, "Limit selectable WSGI process groups."),
    DIRECTIVE("WSGIProcessGroup", ACCESS_CONF | RSRC_CONF, "Name of the WSGI process group."),
    DIRECTIVE("WSGIApplicationGroup", ACCESS_CONF | RSRC_CONF, "Application interpreter group."),
    DIRECTIVE("WSGICallableObject", OR_FILEINFO, "Name of entry point in WSGI script file."),
    DIRECTIVE("WSGIImportScript", RSRC_CONF, "Location of WSGI import script."),
    DIRECTIVE("WSGIPassAuthorization", OR_FILEINFO, "Enable/Disable WSGI authorization."),
    DIRECTIVE("WSGIScriptReloading", OR_FILEINFO, "Enable/Disable script reloading mechanism."),
    DIRECTIVE("WSGIReloadMechanism", OR_FILEINFO, "Reload mechanism used when script changes."),
    DIRECTIVE("WSGIErrorOverride", OR_FILEINFO, "Enable/Disable overriding of error pages."),
    DIRECTIVE("WSGIChunkedRequest", OR_FILEINFO, "Enable/Disable support for chunked requests."),
    DIRECTIVE("WSGIMapHEADToGET", OR_FILEINFO, "Enable/Disable mapping of HEAD to GET."),
    DIRECTIVE("WSGIIgnoreActivity", OR_FILEINFO, "Enable/Disable reset of inactivity timeout."),
    DIRECTIVE("WSGITrustedProxyHeaders", OR_FILEINFO, "Specify a list of trusted proxy headers."),
    DIRECTIVE("WSGITrustedProxies", OR_FILEINFO, "Specify a list of trusted proxies."),
    DIRECTIVE("WSGIEnableSendfile", OR_FILEINFO, "Enable/Disable support for kernel sendfile."),
    DIRECTIVE("WSGIAccessScript", OR_AUTHCFG, "Location of WSGI host access script file."),
    DIRECTIVE("WSGIAuthUserScript", OR_AUTHCFG, "Location of WSGI user auth script file."),
    DIRECTIVE("WSGIAuthGroupScript", OR_AUTHCFG, "Location of WSGI group auth script file."),
    DIRECTIVE("WSGIGroupAuthoritative", OR_AUTHCFG, "Enable/Disable as being authoritative on groups."),
    DIRECTIVE("WSGIHandlerScript", ACCESS_CONF | RSRC_CONF, "Location of WSGI handler script file."),
    DIRECTIVE("WSGIDispatchScript", ACCESS_CONF | RSRC_CONF, "Location of WSGI dispatch script."),
    DIRECTIVE("WSGIPassApacheRequest", OR_FILEINFO, "Enable/Disable Apache request object."),
    DIRECTIVE("WSGIServerMetrics", RSRC_CONF, "Enable/Disable access to server metrics."),
    DIRECTIVE("WSGINewRelicConfigFile", RSRC_CONF, "New Relic agent configuration file (no effect here)."),
    DIRECTIVE("WSGINewRelicEnvironment", RSRC_CONF, "New Relic agent environment (no effect here)."),
    DIRECTIVE("WSGISwitchInterval", RSRC_CONF, "Python GIL switch interval in seconds."),
    {NULL}
};

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

long wsgi_shim_read_body(request_rec *r, apr_bucket_brigade *bb, char *buf, apr_size_t len, apr_status_t *status)
{
    return wsgi_shim_read_body_ex(r, bb, buf, len, 1, status);
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
