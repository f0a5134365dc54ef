"""The Defender's alerts on the portal's overview in a real browser: refused authentications raise an alert that a
platform administrator sees, acknowledges and resolves; a tenant's owner does not see an alert that belongs to
no tenant."""
import json
import time

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
