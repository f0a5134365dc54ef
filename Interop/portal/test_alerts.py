"""The Defender's alerts on the portal's overview in a real browser: refused authentications raise an alert that a
platform administrator sees, acknowledges and resolves; a tenant's owner does not see an alert that belongs to
no tenant."""
import base64
import json
import subprocess
import time
import urllib.parse

from selenium.webdriver.common.by import By

import api
from test_portal import browser, click_and_load, shot, sign_in, wait_for_path  # noqa: F401 (the fixture)


def test_a_platform_administrator_acknowledges_and_resolves_an_alert(warden_factory, browser):
    warden = warden_factory({"defender.auth-failures.threshold": 5})
    warden.cli("device", "create", "pump")
    for attempt in range(5):
        response = api.request(warden, "POST", "/devices/pump/messages/events?api-version=2020-03-13",
                               headers={"Authorization": f"SharedAccessSignature sr=x&sig=g{attempt}&se=9"})
        assert response.status == 401
    deadline = time.monotonic() + 5
    while not json.loads(warden.cli("defender", "alerts", "--json"))["items"] and time.monotonic() < deadline:
        time.sleep(0.1)
    response = api.request(warden, "POST", "/api/v1/users", token=api.admin_token(warden),
                           body={"username": "chief", "password": api.PASSWORD, "platformAdmin": True})
    assert response.status == 201, response.body
    api.create_user(warden, "owner", role="owner")

    browser.get(warden.url + "/signin")
    sign_in(browser, warden, "owner")
    wait_for_path(browser, "/")
    assert "No alerts." in browser.find_element(By.ID, "alerts").text
    browser.find_element(By.CSS_SELECTOR, "form[action='/signout'] button").click()
    wait_for_path(browser, "/signin")

    sign_in(browser, warden, "chief")
    wait_for_path(browser, "/")
    table = browser.find_element(By.ID, "alerts")
    assert "auth.failures.address" in table.text and "open" in table.text
    shot(browser, "alerts-01-open")
    click_and_load(browser, table.find_element(By.XPATH, ".//button[text()='Acknowledge']"))
    assert "acknowledged" in browser.find_element(By.ID, "alerts").text
    click_and_load(browser, browser.find_element(By.ID, "alerts").find_element(By.XPATH, ".//button[text()='Resolve']"))
    assert "No alerts." in browser.find_element(By.ID, "alerts").text
    resolved = json.loads(warden.cli("defender", "alerts", "--status", "resolved", "--json"))["items"]
    assert resolved and resolved[0]["changedBy"] == "user:chief"


def test_the_inventory_page_shows_each_devices_last_connection(warden, browser):
    """A device that connected with mosquitto_pub shows on the inventory page with its address, TLS version,
    cipher suite and client library; the CSV download holds it; another tenant's operator cannot open the page."""
    warden.cli("device", "create", "meter-7")
    warden.cli("device", "create", "never")
    sas = warden.cli("token", "meter-7")
    published = subprocess.run(
        ["mosquitto_pub", "-h", "localhost", "-p", str(warden.mqtt["mqtts"]), "--cafile", warden.ca,
         "-i", "meter-7", "-u", "localhost/meter-7/?api-version=2021-04-12&DeviceClientType=mosquitto_pub",
         "-P", sas, "-V", "mqttv311", "-t", "devices/meter-7/messages/events/", "-m", "hello", "-q", "1"],
        capture_output=True, text=True, timeout=30)
    assert published.returncode == 0, published.stderr
    api.create_user(warden, "viewer", role="monitor")

    browser.get(warden.url + "/signin")
    sign_in(browser, warden, "viewer")
    wait_for_path(browser, "/")
    click_and_load(browser, browser.find_element(By.LINK_TEXT, "Inventory"))
    wait_for_path(browser, "/t/default/inventory")
    rows = {row.find_element(By.TAG_NAME, "td").text.split()[0]: row.text
            for row in browser.find_elements(By.CSS_SELECTOR, "tbody tr")}
    assert "127.0.0.1 mqtt" in rows["meter-7"] and "TLS 1." in rows["meter-7"] and "mosquitto_pub" in rows["meter-7"]
    assert "TLS_" in rows["meter-7"], rows["meter-7"]
    assert "never" in rows["never"]
    shot(browser, "inventory-01")
    cookie = "; ".join(f"{c['name']}={c['value']}" for c in browser.get_cookies())
    csv = api.request(warden, "GET", "/t/default/inventory.csv", headers={"Cookie": cookie})
    assert csv.status == 200 and csv.headers["Content-Type"].startswith("text/csv")
    assert any(line.startswith("meter-7,enabled,sas,") for line in csv.body.decode().splitlines())
    other = api.request(warden, "GET", "/t/other/inventory", headers={"Cookie": cookie})
    assert other.status in {403, 404}, other.status


def test_the_security_page_reports_posture_and_lets_the_tenant_manage_its_alerts(warden, browser):
    """Guesses at one device's key raise a tenant alert; the tenant's owner sees the posture report (six CSF
    functions, their categories with evidence, four charts of the last day) and acknowledges and resolves the
    alert on the security page; an operator sees the page without the buttons."""
    warden.cli("device", "create", "pump")
    # Tokens for the right device and hub, with wrong signatures: guesses at pump's key.
    for attempt in range(10):
        guess = urllib.parse.quote(base64.b64encode(bytes([attempt]) * 32).decode(), safe="")
        token = f"SharedAccessSignature sr=localhost%2Fdevices%2Fpump&sig={guess}&se=4102444800"
        response = api.request(warden, "POST", "/devices/pump/messages/events?api-version=2020-03-13",
                               headers={"Authorization": token})
        assert response.status == 401
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not any(
            a["rule"] == "auth.failures.device"
            for a in json.loads(warden.cli("defender", "alerts", "--tenant", "default", "--json"))["items"]):
        time.sleep(0.1)
    api.create_user(warden, "boss", role="owner")
    api.create_user(warden, "watcher", role="operator")

    browser.get(warden.url + "/signin")
    sign_in(browser, warden, "watcher")
    wait_for_path(browser, "/")
    click_and_load(browser, browser.find_element(By.LINK_TEXT, "Security"))
    wait_for_path(browser, "/t/default/security")
    assert "auth.failures.device" in browser.find_element(By.ID, "tenant-alerts").text
    assert not browser.find_elements(By.XPATH, "//table[@id='tenant-alerts']//button"), "an operator has no buttons"
    browser.find_element(By.CSS_SELECTOR, "form[action='/signout'] button").click()
    wait_for_path(browser, "/signin")

    sign_in(browser, warden, "boss")
    wait_for_path(browser, "/")
    browser.get(warden.url + "/t/default/security")
    functions = browser.find_element(By.ID, "functions").text
    for name in ("Govern (GV)", "Identify (ID)", "Protect (PR)", "Detect (DE)", "Respond (RS)", "Recover (RC)"):
        assert name in functions
    categories = browser.find_element(By.ID, "categories").text
    assert "RC.RP" in categories and "No backup has been made." in categories
    assert len(browser.find_elements(By.CSS_SELECTOR, ".chart svg")) == 4
    assert "Refused authentications: 10" in browser.find_element(By.CSS_SELECTOR, ".charts").text
    shot(browser, "security-01")
    table = browser.find_element(By.ID, "tenant-alerts")
    click_and_load(browser, table.find_element(By.XPATH, ".//button[text()='Acknowledge']"))
    assert "acknowledged" in browser.find_element(By.ID, "tenant-alerts").text
    click_and_load(
        browser, browser.find_element(By.ID, "tenant-alerts").find_element(By.XPATH, ".//button[text()='Resolve']"))
    assert "resolved" in browser.find_element(By.ID, "tenant-alerts").text
    resolved = json.loads(warden.cli("defender", "alerts", "--tenant", "default", "--status", "resolved", "--json"))
    assert resolved["items"][0]["changedBy"] == "user:boss"
