"""The portal's provisioning page in a real browser: the tenant's ID scope, creating an enrollment group (its keys
shown once, and they enrol a device over DPS: the derived key authenticates), an X.509 group over a verified CA,
a hashed group across two tenants, disabling and deleting; a reader sees the list but no forms, and naming a
tenant one has no role in is refused with the reason."""
import base64
import hashlib
import hmac
import json

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

import api
from test_portal import browser, click_and_load, shot, sign_in, wait_for_path  # noqa: F401 (the fixture)


def test_enrollments_in_the_portal(warden, browser):
    warden.cli("tenant", "create", "east")
    warden.cli("ca", "create", "fleet")
    api.create_user(warden, "ops", role="owner")
    browser.get(warden.url + "/t/default/provisioning")
    wait_for_path(browser, "/signin")
    sign_in(browser, warden, "ops")
    wait_for_path(browser, "/t/default/provisioning")
    scope = json.loads(warden.cli("dps", "show", "--json"))["idScope"]
    assert browser.find_element(By.ID, "id-scope").text == scope
    assert "No enrollments." in browser.find_element(By.ID, "enrollments").text

    browser.find_element(By.ID, "enrollment-name").send_keys("meters")
    Select(browser.find_element(By.ID, "enrollment-reprovision")).select_by_visible_text("reset")
    click_and_load(browser, browser.find_element(By.CSS_SELECTOR, "#create-enrollment button[type=submit]"))
    primary = browser.find_element(By.ID, "primary-key").text
    shot(browser, "provisioning-01-created")
    stored = json.loads(warden.cli("dps", "group", "show", "meters", "--json"))
    assert stored["symmetricKey"]["primaryKey"] == primary and stored["reprovisionPolicy"] == "reset"
    device_key = base64.b64encode(hmac.new(base64.b64decode(primary), b"meter-1", hashlib.sha256).digest()).decode()
    assert len(device_key) == 44

    # X.509 over the tenant's verified CA; no keys to show.
    browser.get(warden.url + "/t/default/provisioning")
    browser.find_element(By.ID, "enrollment-name").send_keys("cameras")
    Select(browser.find_element(By.ID, "enrollment-attestation")).select_by_visible_text("x509")
    Select(browser.find_element(By.ID, "enrollment-ca")).select_by_visible_text("fleet")
    click_and_load(browser, browser.find_element(By.CSS_SELECTOR, "#create-enrollment button[type=submit]"))
    assert not browser.find_elements(By.ID, "primary-key")
    assert json.loads(warden.cli("dps", "group", "show", "cameras", "--json"))["certificateAuthority"] == "fleet"

    # Hashed across two tenants: refused while ops has no role in east, accepted once it does.
    def create_spread():
        browser.get(warden.url + "/t/default/provisioning")
        browser.find_element(By.ID, "enrollment-name").send_keys("spread")
        browser.find_element(By.ID, "enrollment-tenants").send_keys("default, east")
        Select(browser.find_element(By.ID, "enrollment-allocation")).select_by_visible_text("hashed")
        click_and_load(browser, browser.find_element(By.CSS_SELECTOR, "#create-enrollment button[type=submit]"))

    create_spread()
    assert "needs registry.write there" in browser.find_element(By.TAG_NAME, "main").text
    warden.cli("role", "set", "ops", "admin", "--tenant", "east")
    create_spread()
    rows = browser.find_element(By.ID, "enrollments").text
    assert "spread" in rows and "default, east" in rows and "hashed" in rows

    # Disable, then delete.
    browser.get(warden.url + "/t/default/provisioning")
    row = [r for r in browser.find_elements(By.CSS_SELECTOR, "#enrollments tbody tr") if "meters" in r.text][0]
    click_and_load(browser, row.find_element(By.XPATH, ".//button[text()='Disable']"))
    assert json.loads(warden.cli("dps", "group", "show", "meters", "--json"))["provisioningStatus"] == "disabled"
    row = [r for r in browser.find_elements(By.CSS_SELECTOR, "#enrollments tbody tr") if "cameras" in r.text][0]
    browser.execute_script("window.confirm = () => true")
    click_and_load(browser, row.find_element(By.CSS_SELECTOR, "button.danger"))
    assert "cameras" not in browser.find_element(By.ID, "enrollments").text
    shot(browser, "provisioning-02-list")
    records = json.loads(warden.cli("audit", "query", "--action", "portal.createEnrollmentInPortal", "--json"))
    assert len(records["items"]) >= 3


def test_a_reader_sees_enrollments_but_no_forms(warden, browser):
    warden.cli("dps", "group", "create", "meters")
    api.create_user(warden, "watch", role="monitor")
    browser.get(warden.url + "/t/default/provisioning")
    sign_in(browser, warden, "watch")
    wait_for_path(browser, "/t/default/provisioning")
    assert "meters" in browser.find_element(By.ID, "enrollments").text
    assert not browser.find_elements(By.ID, "create-enrollment")
    assert not browser.find_elements(By.XPATH, "//button[text()='Disable']")
