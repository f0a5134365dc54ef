"""Sign-in, tokens, OAuth2 and the CLI's session against the real binary, as other tools would use them."""
import os
import stat
import time

import api


def test_signin_returns_the_documented_token_shape(warden):
    api.create_user(warden, "ada")
    response = api.sign_in(warden, "ada")
    assert response.status == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    assert body["access_token"].count(".") == 2 and body["refresh_token"].startswith("wrt_")
    me = api.request(warden, "GET", "/api/v1/auth/me", token=body["access_token"])
    assert me.status == 200 and me.json["name"] == "ada" and me.json["roles"] == {"default": "operator"}


def test_wrong_credentials_get_a_problem_and_repeated_failures_lock_out(warden):
    api.create_user(warden, "ada")
    for _ in range(5):
        response = api.sign_in(warden, "ada", "not the password at all")
        assert response.status == 401
        assert response.headers["Content-Type"] == "application/problem+json"
        assert response.json["code"] == "auth.sign_in_failed"
    unknown = api.sign_in(warden, "nobody")
    assert unknown.status in (401, 429)
    locked = api.sign_in(warden, "ada")
    assert locked.status == 429 and locked.json["code"] == "auth.locked_out"
    assert 1 <= int(locked.headers["Retry-After"]) <= 60


def test_tokens_that_are_expired_tampered_or_foreign_are_refused(warden_factory):
    warden = warden_factory({"auth.access-token-lifetime": 60})
    api.create_user(warden, "ada")
    token = api.sign_in(warden, "ada").json["access_token"]
    header, payload, signature = token.split(".")
    flipped = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1]
    for bad in [header + "." + flipped + "." + signature, token + "x", "not-a-token", token[:-10]]:
        response = api.request(warden, "GET", "/api/v1/tenants", token=bad)
        assert response.status == 401 and response.json["code"] == "auth.invalid_credential", bad
    other = warden_factory(name="other-data")
    api.create_user(other, "ada")
    assert api.request(other, "GET", "/api/v1/auth/me", token=token).status == 401


def test_refresh_rotates_and_reuse_revokes_the_session(warden):
    api.create_user(warden, "ada")
    first = api.sign_in(warden, "ada").json
    second = api.request(warden, "POST", "/oauth/token",
                         form={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert second.status == 200, second.body
    assert second.json["refresh_token"] != first["refresh_token"]
    again = api.request(warden, "POST", "/oauth/token",
                        form={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert again.status == 400 and again.json["error"] == "invalid_grant"
    # The family is gone: the token issued to whoever refreshed first stops too.
    assert api.request(warden, "POST", "/oauth/token", form={
        "grant_type": "refresh_token", "refresh_token": second.json["refresh_token"]}).status == 400
    assert api.request(warden, "GET", "/api/v1/auth/me", token=second.json["access_token"]).status == 401


def test_client_credentials_for_a_service_principal(warden):
    created = api.request(warden, "POST", "/api/v1/service-principals", token=api.admin_token(warden),
                          body={"name": "billing", "roles": {"default": "monitor"}})
    assert created.status == 201
    client_id, secret = created.json["clientId"], created.json["clientSecret"]
    for kwargs in [{"headers": api.basic(client_id, secret), "form": {"grant_type": "client_credentials"}},
                   {"form": {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}}]:
        response = api.request(warden, "POST", "/oauth/token", **kwargs)
        assert response.status == 200, response.body
        assert "refresh_token" not in response.json and response.json["token_type"] == "Bearer"
        devices = api.request(warden, "GET", "/api/v1/tenants/default/devices", token=response.json["access_token"])
        assert devices.status == 200
        created_device = api.request(warden, "POST", "/api/v1/tenants/default/devices",
                                     token=response.json["access_token"], body={"deviceId": "d1"})
        assert created_device.status == 403
    wrong = api.request(warden, "POST", "/oauth/token", headers=api.basic(client_id, secret + "x"),
                        form={"grant_type": "client_credentials"})
    assert wrong.status == 401 and wrong.json["error"] == "invalid_client"
    unsupported = api.request(warden, "POST", "/oauth/token", form={"grant_type": "password"})
    assert unsupported.status == 400 and unsupported.json["error"] == "unsupported_grant_type"


def test_cli_login_keeps_a_private_session_and_one_time_passwords_must_change(warden, tmp_path):
    config = tmp_path / "config"
    env = {"WARDEN_CONFIG_DIR": str(config)}
    created = api.cli(warden, "user", "create", "cy", "--tenant", "default", "--role", "admin")
    assert created.returncode == 0, created.stderr
    one_time = created.stdout.split("first sign-in): ")[1].strip()
    login = api.cli(warden, "login", "cy", "--password-stdin", stdin=one_time + "\n", env=env)
    assert login.returncode == 0, login.stderr
    session_file = config / "sessions.json"
    assert stat.S_IMODE(os.stat(session_file).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(config).st_mode) == 0o700
    refused = api.cli(warden, "device", "list", env=env)
    assert refused.returncode == 77 and "auth.password_change_required" in refused.stderr
    changed = api.cli(warden, "user", "password", "--password-stdin", stdin=f"{one_time}\n{api.PASSWORD}\n", env=env)
    assert changed.returncode == 0, changed.stderr
    time.sleep(1.1)
    login = api.cli(warden, "login", "cy", "--password-stdin", stdin=api.PASSWORD + "\n", env=env)
    assert login.returncode == 0, login.stderr
    listed = api.cli(warden, "device", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    logout = api.cli(warden, "logout", env=env)
    assert logout.returncode == 0 and "cy" not in session_file.read_text()


def test_api_keys_are_shown_once_scoped_and_revocable(warden):
    admin = api.admin_token(warden)
    created = api.request(warden, "POST", "/api/v1/tenants/default/api-keys", token=admin,
                          body={"name": "dashboard", "permissions": ["registry.read"]})
    assert created.status == 201 and created.json["key"].startswith("wak_")
    key = created.json["key"]
    listed = api.request(warden, "GET", "/api/v1/tenants/default/api-keys", token=admin).json["items"]
    assert [item.get("key") for item in listed] == [None]
    assert api.request(warden, "GET", "/api/v1/tenants/default/devices", token=key).status == 200
    assert api.request(warden, "POST", "/api/v1/tenants/default/devices", token=key, body={"deviceId": "x"}).status == 403
    assert api.request(warden, "GET", "/api/v1/users", token=key).status == 403
    revoked = api.request(warden, "DELETE", f"/api/v1/tenants/default/api-keys/{created.json['id']}", token=admin)
    assert revoked.status == 200 and revoked.json["revokedAt"]
    assert api.request(warden, "GET", "/api/v1/tenants/default/devices", token=key).status == 401


def test_cli_refuses_bad_flags_and_creates_nothing(warden):
    for arguments in [
        ["apikey", "create", "k", "--tenant", "default", "--permission", "registry.read", "--expires", "5x"],
        ["apikey", "create", "k", "--tenant", "default"],
        ["user", "create", "ada", "--tenant", "default"],
        ["user", "create", "ada"],
    ]:
        result = api.cli(warden, *arguments)
        assert result.returncode == 64, (arguments, result.stderr)
    refused = api.cli(warden, "apikey", "create", "k", "--tenant", "default", "--permission", "devices.fly")
    assert refused.returncode == 65 and "request.invalid_field" in refused.stderr
    empty_stdin = api.cli(warden, "login", "ada", "--password-stdin", stdin="")
    assert empty_stdin.returncode == 65 and "no password" in empty_stdin.stderr
    listed = api.request(warden, "GET", "/api/v1/tenants/default/api-keys", token=api.admin_token(warden))
    assert listed.json["items"] == []
    users = api.request(warden, "GET", "/api/v1/users", token=api.admin_token(warden)).json["items"]
    assert [user["username"] for user in users] == ["admin"]
