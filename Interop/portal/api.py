"""A small HTTPS client of Warden's API (standard library only), trusting the data directory's CA."""
import base64
import json
import os
import pathlib
import ssl
import subprocess
import urllib.error
import urllib.parse
import urllib.request

PASSWORD = "a long enough password"
BINARY = os.environ.get("WARDEN_BINARY", str(pathlib.Path(__file__).resolve().parents[2] / ".build/debug/warden"))


class Response:
    def __init__(self, status: int, headers, body: bytes):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def json(self):
        return json.loads(self.body) if self.body else None


def request(warden, method: str, path: str, body=None, token: str | None = None, form: dict | None = None,
            headers: dict | None = None) -> Response:
    context = ssl.create_default_context(cafile=warden.ca)
    data = None
    all_headers = dict(headers or {})
    if body is not None:
        data = json.dumps(body).encode()
        all_headers["Content-Type"] = "application/json"
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        all_headers["Content-Type"] = "application/x-www-form-urlencoded"
    if token:
        all_headers["Authorization"] = "Bearer " + token
    req = urllib.request.Request(warden.url + path, data=data, method=method, headers=all_headers)
    try:
        with urllib.request.urlopen(req, context=context, timeout=30) as response:
            return Response(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        return Response(error.code, error.headers, error.read())


def admin_token(warden) -> str:
    return (warden.data_dir / "admin.token").read_text().strip()


def create_user(warden, name: str, tenant: str = "default", role: str = "operator", password: str = PASSWORD):
    response = request(warden, "POST", "/api/v1/users", token=admin_token(warden),
                       body={"username": name, "password": password, "roles": {tenant: role}})
    assert response.status == 201, response.body
    return response.json


def sign_in(warden, name: str, password: str = PASSWORD, totp: str | None = None) -> Response:
    body = {"username": name, "password": password}
    if totp is not None:
        body["totp"] = totp
    return request(warden, "POST", "/api/v1/auth/signin", body=body)


def basic(client_id: str, secret: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def sqlite_edit(warden, sql: str):
    """Edits the database file directly, as an attacker with disk access would (the server keeps running)."""
    import sqlite3
    connection = sqlite3.connect(str(warden.data_dir / "warden.sqlite"))
    connection.executescript(sql)
    connection.commit()
    connection.close()


def cli(warden, *arguments: str, stdin: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("WARDEN_")}
    environment.update(env or {})
    return subprocess.run([BINARY, *arguments, "--data-dir", str(warden.data_dir)], input=stdin,
                          capture_output=True, text=True, timeout=60, env=environment)
