"""The web portal in a real browser (Selenium and Debian's headless chromium) against the real binary.
Screenshots go to test-artifacts/portal/ (or $WARDEN_ARTIFACTS)."""
import os
import pathlib
import urllib.parse

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

import api

ARTIFACTS = pathlib.Path(os.environ.get("WARDEN_ARTIFACTS", pathlib.Path(__file__).resolve().parents[2] / "test-artifacts")) / "portal"


@pytest.fixture
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--ignore-certificate-errors", "--window-size=1280,1000"]:
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.implicitly_wait(5)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


def shot(browser, name: str):
    browser.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def wait_for_path(browser, path: str):
    WebDriverWait(browser, 10).until(lambda d: urllib.parse.urlparse(d.current_url).path == path)


def click_and_load(browser, button):
    """Clicks a button that submits a form, and returns once the browser has left the page it was on. A form that
    posts back to its own path would otherwise pass `wait_for_path` at once and leave the old page's elements to
    be read while they are being replaced."""
    page = browser.find_element(By.TAG_NAME, "html")
    button.click()

    def left(_):
        try:
            page.is_enabled()
            return False
        except WebDriverException:
            # Stale, or Chrome's "node does not belong to the document" while it swaps the documents.
            return True

    WebDriverWait(browser, 10).until(left)


def sign_in(browser, warden, name: str, password: str = api.PASSWORD):
    browser.find_element(By.ID, "username").send_keys(name)
    browser.find_element(By.ID, "password").send_keys(password)
    browser.find_element(By.CSS_SELECTOR, "form[action='/signin'] button[type=submit]").click()


def test_sign_in_create_and_disable_a_device_and_see_both_in_the_audit_view(warden, browser):
    api.create_user(warden, "ops", role="owner")
    # Signed out: a page sends the browser to sign in, and back afterwards.
    browser.get(warden.url + "/t/default/devices")
    wait_for_path(browser, "/signin")
    assert "next=%2Ft%2Fdefault%2Fdevices" in browser.current_url
    shot(browser, "01-signin")
    sign_in(browser, warden, "ops")
    wait_for_path(browser, "/t/default/devices")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Devices in default"
    cookies = {cookie["name"]: cookie for cookie in browser.get_cookies()}
    for name in ["warden_session", "warden_refresh", "warden_csrf"]:
        assert cookies[name]["httpOnly"] and cookies[name]["secure"] and cookies[name]["sameSite"] == "Strict", name

    browser.find_element(By.NAME, "deviceId").send_keys("press-7")
    browser.find_element(By.CSS_SELECTOR, "form[method=post][action='/t/default/devices'] button").click()
    wait_for_path(browser, "/t/default/devices/press-7")
    assert "Device press-7" in browser.find_element(By.TAG_NAME, "h1").text
    shot(browser, "02-device-created")

    browser.find_element(By.NAME, "reason").send_keys("maintenance")
    browser.execute_script("window.confirm = function () { return true; }")
    browser.find_element(By.CSS_SELECTOR, "form[action='/t/default/devices/press-7/status'] button").click()
    WebDriverWait(browser, 10).until(
        expected_conditions.text_to_be_present_in_element((By.TAG_NAME, "h1"), "disabled"))
    shot(browser, "03-device-disabled")
    device = api.request(warden, "GET", "/api/v1/tenants/default/devices/press-7", token=api.admin_token(warden)).json
    assert device["status"] == "disabled" and device["statusReason"] == "maintenance"

    browser.get(warden.url + "/t/default/audit")
    table = browser.find_element(By.TAG_NAME, "tbody").text
    shot(browser, "04-audit")
    assert "portal.createDevice" in table and "portal.setDeviceStatus" in table
    assert "user:ops" in table

    browser.find_element(By.CSS_SELECTOR, "form[action='/signout'] button").click()
    wait_for_path(browser, "/signin")
    browser.get(warden.url + "/")
    wait_for_path(browser, "/signin")


def test_the_overview_lists_devices_and_recent_failures(warden, browser):
    api.create_user(warden, "ops", role="owner")
    assert api.sign_in(warden, "ops", "not the right password").status == 401
    browser.get(warden.url + "/signin")
    sign_in(browser, warden, "ops")
    wait_for_path(browser, "/")
    assert "0 connected of 0 devices" in browser.find_element(By.CSS_SELECTOR, "main").text.replace("\n", " ")
    shot(browser, "05-overview")


def test_a_wrong_password_stays_on_the_sign_in_page(warden, browser):
    browser.get(warden.url + "/signin")
    sign_in(browser, warden, "admin", "certainly not it")
    assert browser.find_element(By.CSS_SELECTOR, "[role=alert]").text == "The username, password or code is not right."
    assert urllib.parse.urlparse(browser.current_url).path == "/signin"


def test_a_generated_password_leads_to_the_account_page_first(warden, browser):
    browser.get(warden.url + "/signin")
    sign_in(browser, warden, "admin", (warden.data_dir / "admin.password").read_text().strip())
    wait_for_path(browser, "/account")
    assert "choose your own" in browser.find_element(By.CSS_SELECTOR, "main").text
    browser.get(warden.url + "/t/default/devices")
    wait_for_path(browser, "/account")
    shot(browser, "06-account")


def test_keyboard_only_sign_in(warden, browser):
    from selenium.webdriver.common.keys import Keys
    api.create_user(warden, "kb", role="monitor")
    browser.get(warden.url + "/signin")
    active = browser.switch_to.active_element
    assert active.get_attribute("id") == "username"
    active.send_keys("kb" + Keys.TAB)
    browser.switch_to.active_element.send_keys(api.PASSWORD + Keys.ENTER)
    wait_for_path(browser, "/")
    for label in browser.find_elements(By.CSS_SELECTOR, "input:not([type=hidden])"):
        assert label.get_attribute("id") or label.find_element(By.XPATH, "ancestor::label"), "unlabelled input"


def test_a_connected_device_shows_as_connected_and_gets_a_message_sent_from_the_portal(warden, browser):
    import subprocess
    import time
    api.create_user(warden, "ops", role="owner")
    admin = api.admin_token(warden)
    assert api.request(warden, "POST", "/api/v1/tenants/default/devices", token=admin,
                       body={"deviceId": "meter-9"}).status == 201
    sas = api.cli(warden, "token", "meter-9").stdout.strip()
    device = subprocess.Popen(
        ["mosquitto_sub", "-h", "localhost", "-p", str(warden.mqtt["mqtts"]), "--cafile", warden.ca, "-i", "meter-9",
         "-u", "localhost/meter-9/?api-version=2021-04-12", "-P", sas, "-V", "mqttv311", "-q", "1",
         "-t", "devices/meter-9/messages/devicebound/#", "-C", "1", "-W", "60"],
        stdout=subprocess.PIPE, text=True)
    try:
        browser.get(warden.url + "/signin?next=%2Ft%2Fdefault%2Fdevices")
        sign_in(browser, warden, "ops")
        wait_for_path(browser, "/t/default/devices")
        for _ in range(50):
            row = browser.find_element(By.XPATH, "//tr[td/a[text()='meter-9']]").text
            if "connected" in row:
                break
            time.sleep(0.2)
            browser.refresh()
        assert "connected" in row and "status changed" not in row, row
        shot(browser, "07-connected-device")
        browser.find_element(By.LINK_TEXT, "meter-9").click()
        wait_for_path(browser, "/t/default/devices/meter-9")
        browser.find_element(By.ID, "c2d-body").send_keys("reboot at 02:00")
        browser.find_element(By.CSS_SELECTOR, "form[action='/t/default/devices/meter-9/c2d'] button").click()
        output, _ = device.communicate(timeout=60)
        assert output.strip() == "reboot at 02:00"
    finally:
        device.kill()
