"""The portal's certificates page in a real browser: create an issuing CA, issue a device certificate from a
pasted CSR (openssl verifies it against the CA), revoke it with a reason; a reader sees the lists but no forms."""
import json
import subprocess

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

import api
from test_portal import browser, click_and_load, shot, sign_in, wait_for_path  # noqa: F401 (the fixture)


def openssl(folder, *arguments) -> subprocess.CompletedProcess:
    return subprocess.run(["openssl", *arguments], capture_output=True, text=True, cwd=folder)


def test_create_a_ca_issue_and_revoke_in_the_portal(warden, browser, tmp_path):
    api.create_user(warden, "pki", role="owner")
    browser.get(warden.url + "/t/default/certificates")
    wait_for_path(browser, "/signin")
    sign_in(browser, warden, "pki")
    wait_for_path(browser, "/t/default/certificates")
    assert "No certificate authorities." in browser.find_element(By.ID, "authorities").text

    browser.find_element(By.ID, "ca-name").send_keys("fleet")
    browser.find_element(By.ID, "ca-cn").send_keys("Fleet Devices")
    click_and_load(browser, browser.find_element(By.CSS_SELECTOR, "#create-ca button[type=submit]"))
    assert "issuing" in browser.find_element(By.ID, "authorities").text

    result = openssl(tmp_path, "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                     "-keyout", "meter.key", "-subj", "/CN=meter-7", "-out", "meter.csr")
    assert result.returncode == 0, result.stderr
    browser.find_element(By.ID, "issue-device").send_keys("meter-7")
    browser.find_element(By.ID, "issue-csr").send_keys((tmp_path / "meter.csr").read_text())
    click_and_load(browser, browser.find_element(By.CSS_SELECTOR, "#issue-certificate button[type=submit]"))
    pem = browser.find_element(By.ID, "certificate-pem").text
    assert pem.startswith("-----BEGIN CERTIFICATE-----")
    shot(browser, "certificates-01-issued")
    (tmp_path / "meter.pem").write_text(pem + "\n")
    (tmp_path / "fleet.pem").write_text(warden.cli("ca", "show", "fleet", "--pem") + "\n")
    verified = openssl(tmp_path, "verify", "-CAfile", "fleet.pem", "-purpose", "sslclient", "meter.pem")
    assert verified.returncode == 0, verified.stderr

    # A CSR for another device is refused with the reason; nothing is issued.
    other = openssl(tmp_path, "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", "o.key", "-subj", "/CN=meter-8", "-out", "o.csr")
    assert other.returncode == 0
    browser.find_element(By.ID, "issue-device").send_keys("meter-7")
    browser.find_element(By.ID, "issue-csr").send_keys((tmp_path / "o.csr").read_text())
    click_and_load(browser, browser.find_element(By.CSS_SELECTOR, "#issue-certificate button[type=submit]"))
    assert "names 'meter-8'" in browser.find_element(By.TAG_NAME, "main").text

    browser.get(warden.url + "/t/default/certificates")
    row = browser.find_element(By.CSS_SELECTOR, "#certificates tbody tr")
    serial = row.find_element(By.TAG_NAME, "td").text
    Select(row.find_element(By.NAME, "reason")).select_by_visible_text("keyCompromise")
    browser.execute_script("window.confirm = () => true")
    click_and_load(browser, row.find_element(By.CSS_SELECTOR, "button.danger"))
    assert "revoked" in browser.find_element(By.ID, "certificates").text
    shot(browser, "certificates-02-revoked")
    shown = json.loads(warden.cli("cert", "show", serial, "--json"))
    assert shown["status"] == "revoked" and shown["revocation"]["reason"] == "keyCompromise"
    assert shown["issuedBy"] == "user:pki"


def test_a_reader_sees_certificates_but_no_forms(warden, browser):
    warden.cli("ca", "create", "fleet")
    api.create_user(warden, "watch", role="monitor")
    browser.get(warden.url + "/t/default/certificates")
    sign_in(browser, warden, "watch")
    wait_for_path(browser, "/t/default/certificates")
    assert "fleet" in browser.find_element(By.ID, "authorities").text
    assert not browser.find_elements(By.ID, "create-ca") and not browser.find_elements(By.ID, "issue-certificate")
