//! Real applications from PyPI (issue 4), from the test virtualenv
//! (tests/common/venv.rs): a Django project made by `django-admin
//! startproject`, served through its own `wsgi.py` (admin login with CSRF,
//! static files through `Alias`); a Flask app selected with
//! `WSGICallableObject app` in a `<Files>` section; numpy under
//! `WSGIApplicationGroup %{GLOBAL}`.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use common::*;

const CRASH_SIGNS: &[&str] = &["exit signal", "Fatal Python error", "Segmentation", "panicked"];

fn assert_no_crash_lines(log: &str) {
    for sign in CRASH_SIGNS {
        assert!(!log.contains(sign), "error_log contains {sign:?}:\n{log}");
    }
}

fn get_ok(apache: &Apache, path: &str) -> Response {
    let mark = apache.log_mark();
    let resp = apache.get(path);
    apache.assert_status(&resp, 200, mark);
    resp
}

// ---------------------------------------------------------------------------
// Django.

const DJANGO_ADMIN_PASSWORD: &str = "s3cretPassw0rdForTests";

/// Settings appended to the generated settings.py: the database in a
/// directory the Apache user may write to (sessions are stored there), and
/// the target of `collectstatic`.
fn django_settings(root: &Path) -> String {
    let root = root.display();
    format!(
        "\n# Added by tests/frameworks.rs\n\
         ALLOWED_HOSTS = ['127.0.0.1', 'localhost']\n\
         DATABASES['default']['NAME'] = '{root}/django-data/db.sqlite3'\n\
         STATIC_ROOT = '{root}/django-static'\n"
    )
}

/// `django-admin startproject mysite` in `{root}/django`, migrated, with a
/// superuser and the static files collected.
fn make_django_project(root: &Path) {
    let venv = common::venv::get();
    let project = root.join("django");
    let data = root.join("django-data");
    fs::create_dir_all(&project).unwrap();
    fs::create_dir_all(&data).unwrap();
    venv.run(&project, "django-admin", &["startproject", "mysite", "."]);
    let settings = project.join("mysite/settings.py");
    let mut text = fs::read_to_string(&settings).unwrap();
    text.push_str(&django_settings(root));
    fs::write(&settings, text).unwrap();
    venv.run(&project, "python", &["manage.py", "migrate", "--noinput"]);
    venv.run_env(
        &project,
        "python",
        &["manage.py", "createsuperuser", "--noinput", "--username", "admin", "--email", "admin@example.com"],
        &[("DJANGO_SUPERUSER_PASSWORD", DJANGO_ADMIN_PASSWORD)],
    );
    venv.run(&project, "python", &["manage.py", "collectstatic", "--noinput"]);
    let out = std::process::Command::new("chmod").arg("-R").arg("a+rX").arg(root).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    // SQLite writes the database and a journal next to it.
    fs::set_permissions(&data, fs::Permissions::from_mode(0o777)).unwrap();
    fs::set_permissions(data.join("db.sqlite3"), fs::Permissions::from_mode(0o666)).unwrap();
}

fn django() -> &'static Apache {
    shared!(Apache, {
        let venv = common::venv::get();
        let b = ApacheBuilder::new();
        make_django_project(b.root());
        b.conf(&format!(
            r#"
WSGIPythonHome {home}
WSGIPythonPath {{root}}/django
Alias /static/ {{root}}/django-static/
WSGIScriptAlias / {{root}}/django/mysite/wsgi.py
"#,
            home = venv.path.display()
        ))
        .start()
    })
}

/// The value of cookie `name` set by `resp`.
fn set_cookie(resp: &Response, name: &str) -> Option<String> {
    resp.header_all("Set-Cookie").into_iter().find_map(|c| {
        let first = c.split(';').next()?;
        let (n, v) = first.split_once('=')?;
        (n.trim() == name).then(|| v.trim().to_string())
    })
}

/// The `value` of the hidden `csrfmiddlewaretoken` input of a form.
fn form_csrf_token(html: &str) -> Option<String> {
    let at = html.find("name=\"csrfmiddlewaretoken\"")?;
    let rest = &html[at..];
    let v = rest.find("value=\"")? + "value=\"".len();
    let end = rest[v..].find('"')?;
    Some(rest[v..v + end].to_string())
}

struct LoginForm {
    cookie: String,
    token: String,
}

fn get_login_form(apache: &Apache) -> LoginForm {
    let resp = get_ok(apache, "/admin/login/?next=/admin/");
    let html = resp.text();
    let cookie = set_cookie(&resp, "csrftoken").unwrap_or_else(|| panic!("no csrftoken cookie:\n{resp:?}"));
    let token = form_csrf_token(&html).unwrap_or_else(|| panic!("no csrfmiddlewaretoken in the form:\n{html}"));
    LoginForm { cookie, token }
}

fn post_login(apache: &Apache, cookie: Option<&str>, token: &str, password: &str) -> Response {
    let body = format!("csrfmiddlewaretoken={token}&username=admin&password={password}&next=%2Fadmin%2F");
    let cookie_header = cookie.map(|c| format!("csrftoken={c}"));
    let mut headers = vec![("Content-Type", "application/x-www-form-urlencoded")];
    if let Some(c) = &cookie_header {
        headers.push(("Cookie", c.as_str()));
    }
    apache.request("POST", "/admin/login/?next=/admin/", &headers, body.as_bytes())
}

#[test]
fn django_admin_login_page_renders() {
    let s = django();
    let resp = get_ok(s, "/admin/login/");
    let html = resp.text();
    assert!(html.contains("Django"), "{html}");
    assert!(html.contains("csrfmiddlewaretoken"), "{html}");
    assert!(resp.header("Content-Type").is_some_and(|t| t.starts_with("text/html")), "{resp:?}");
    // /admin/ redirects an anonymous user to the login page.
    let resp = s.get("/admin/");
    assert_eq!(resp.status, 302, "{resp:?}");
    assert!(resp.header("Location").is_some_and(|l| l.starts_with("/admin/login/")), "{resp:?}");
    assert_no_crash_lines(&s.error_log());
}

#[test]
fn django_login_post_with_the_csrf_token_passes_the_csrf_check() {
    let s = django();
    let form = get_login_form(s);
    // Wrong password: past CSRF, the form comes back with an error.
    let mark = s.log_mark();
    let resp = post_login(s, Some(&form.cookie), &form.token, "wrong");
    s.assert_status(&resp, 200, mark);
    let html = resp.text();
    assert!(html.contains("Please enter the correct username and password"), "{html}");

    // Without the cookie the same POST is refused: the check is real.
    let mark = s.log_mark();
    let resp = post_login(s, None, &form.token, "wrong");
    s.assert_status(&resp, 403, mark);
    assert!(resp.text().contains("CSRF"), "{resp:?}");
}

#[test]
fn django_login_succeeds_and_the_session_works() {
    let s = django();
    let form = get_login_form(s);
    let mark = s.log_mark();
    let resp = post_login(s, Some(&form.cookie), &form.token, DJANGO_ADMIN_PASSWORD);
    s.assert_status(&resp, 302, mark);
    assert_eq!(resp.header("Location"), Some("/admin/"), "{resp:?}");
    let session = set_cookie(&resp, "sessionid").unwrap_or_else(|| panic!("no session cookie:\n{resp:?}"));
    let cookie = format!("sessionid={session}");
    let mark = s.log_mark();
    let resp = s.request("GET", "/admin/", &[("Cookie", &cookie)], &[]);
    s.assert_status(&resp, 200, mark);
    assert!(resp.text().contains("Site administration"), "{resp:?}");
}

#[test]
fn django_static_files_are_served_by_apache_through_alias() {
    let s = django();
    let resp = get_ok(s, "/static/admin/css/base.css");
    assert!(resp.header("Content-Type").is_some_and(|t| t.starts_with("text/css")), "{resp:?}");
    let on_disk = fs::read(s.root().join("django-static/admin/css/base.css")).unwrap();
    assert!(resp.body == on_disk, "served CSS differs from the collected file");
    // The login page links to it.
    let html = get_ok(s, "/admin/login/").text();
    assert!(html.contains("/static/admin/css/base.css"), "{html}");
}

// ---------------------------------------------------------------------------
// Flask.

const FLASK_APP: &str = include_str!("apps/frameworks/flask.py");

fn flask() -> &'static Apache {
    shared!(Apache, {
        let venv = common::venv::get();
        ApacheBuilder::new()
            .file("flask/flaskapp.py", FLASK_APP)
            .file("flask/other.py", FLASK_APP)
            .conf(&format!(
                r#"
WSGIPythonPath {site}
WSGIScriptAlias /flask {{root}}/flask/flaskapp.py
WSGIScriptAlias /other {{root}}/flask/other.py
<Directory {{root}}/flask>
    <Files flaskapp.py>
        WSGICallableObject app
    </Files>
</Directory>
"#,
                site = venv.site_packages().display()
            ))
            .start()
    })
}

#[test]
fn flask_app_through_wsgi_callable_object_in_files() {
    let s = flask();
    let resp = get_ok(s, "/flask/");
    assert!(resp.text().starts_with("Hello from Flask"), "{resp:?}");

    let resp = get_ok(s, "/flask/greet/bob?q=42");
    assert!(resp.header("Content-Type").is_some_and(|t| t.starts_with("application/json")), "{resp:?}");
    let text = resp.text();
    for part in [r#""greeting":"hello bob""#, r#""q":"42""#, r#""url":"/flask/greet/bob""#, r#""script_root":"/flask""#]
    {
        assert!(text.replace(": ", ":").contains(part), "{part} not in {text}");
    }

    let mark = s.log_mark();
    let resp = s.post("/flask/form", "application/x-www-form-urlencoded", b"b=2&a=1");
    s.assert_status(&resp, 200, mark);
    assert_eq!(resp.text().split_whitespace().collect::<String>(), r#"[["a","1"],["b","2"]]"#);

    // Flask's own 404, not Apache's.
    let resp = s.get("/flask/no/such/route");
    assert_eq!(resp.status, 404, "{resp:?}");
    assert!(resp.text().contains("The requested URL was not found on the server"), "{resp:?}");
    assert_no_crash_lines(&s.error_log());
}

#[test]
fn wsgi_callable_object_applies_only_inside_its_files_section() {
    let s = flask();
    let mark = s.log_mark();
    let resp = s.get("/other/");
    s.assert_status(&resp, 404, mark);
    assert!(
        s.wait_for_log_since(
            mark,
            "does not contain WSGI application 'application'",
            std::time::Duration::from_secs(5)
        ),
        "{}",
        s.log_since(mark)
    );
}

// ---------------------------------------------------------------------------
// numpy.

const NUMPY_APP: &str = include_str!("apps/frameworks/numpy.py");

fn numpy_server() -> &'static Apache {
    shared!(Apache, {
        let venv = common::venv::get();
        ApacheBuilder::new()
            .file("wsgi/numpy.wsgi", NUMPY_APP)
            .conf(&format!(
                "WSGIPythonHome {}\nWSGIScriptAlias /numpy {{root}}/wsgi/numpy.wsgi\n\
                 <Location /numpy>\n    WSGIApplicationGroup %{{GLOBAL}}\n</Location>",
                venv.path.display()
            ))
            .start()
    })
}

fn check_numpy_response(resp: &Response) {
    let text = resp.text();
    for line in ["sum=500500", "dot=333833500", "det=5.0", "sorted=True", "group=''", "main=True"] {
        assert!(text.lines().any(|l| l == line), "{line} not in:\n{text}");
    }
}

#[test]
fn numpy_app_in_the_global_group() {
    let s = numpy_server();
    let resp = get_ok(s, "/numpy?1");
    check_numpy_response(&resp);
}

#[test]
fn numpy_app_under_concurrent_requests() {
    let s = numpy_server();
    let port = s.port();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            std::thread::spawn(move || {
                let mut conn = Conn::open(port).unwrap();
                (0..10).map(|i| conn.get(&format!("/numpy?{}", t * 100 + i))).collect::<Vec<_>>()
            })
        })
        .collect();
    for t in threads {
        for resp in t.join().unwrap() {
            assert_eq!(resp.status, 200, "{resp:?}\n{}", s.error_log());
            check_numpy_response(&resp);
        }
    }
    assert_no_crash_lines(&s.error_log());
}
