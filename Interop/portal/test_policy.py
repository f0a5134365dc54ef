"""The portal's policy page in a real browser: write a document with validation (a refusal keeps what was
typed), try a request, compare versions, restore one; a role that only reads sees no editor."""
import json

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

import api
from test_portal import browser, click_and_load, shot, sign_in, wait_for_path  # noqa: F401 (the fixture)

FLOORS = {"statements": [
    {"id": "floor-share", "effect": "allow", "principals": {"attributes": {"role": "sensor"}},
     "actions": ["publish", "subscribe"], "resources": ["floors/${device.attr.floor}/#"]}]}


def write(browser, text: str):
    editor = browser.find_element(By.ID, "document")
    editor.clear()
    editor.send_keys(text)
    click_and_load(browser, browser.find_element(By.CSS_SELECTOR, "#policy-editor button[type=submit]"))


def test_write_try_compare_and_restore_a_policy(warden, browser):
    api.create_user(warden, "sec", role="owner")
    token = api.admin_token(warden)
    api.request(warden, "POST", "/api/v1/tenants/default/devices", token=token,
                body={"deviceId": "unit-1", "attributes": {"role": "sensor", "floor": "3"}})
    browser.get(warden.url + "/t/default/policy")
    wait_for_path(browser, "/signin")
    sign_in(browser, warden, "sec")
    wait_for_path(browser, "/t/default/policy")
    assert "Version 0 enforced" in browser.find_element(By.TAG_NAME, "main").text

    # A refused document: the reason names the field, and the editor keeps what was typed.
    broken = json.dumps({"statements": [{"id": "x", "effect": "maybe"}]})
    write(browser, broken)
    alert = browser.find_element(By.CSS_SELECTOR, "#policy-editor [role=alert]").text
    assert "statements[0].effect" in alert
    assert browser.find_element(By.ID, "document").get_attribute("value") == broken
    shot(browser, "policy-01-refused")

    write(browser, json.dumps(FLOORS, indent=2))
    wait_for_path(browser, "/t/default/policy")
    assert "Version 1 enforced" in browser.find_element(By.TAG_NAME, "main").text

    # Try a request: allowed by the new statement, with the statements considered.
    browser.find_element(By.CSS_SELECTOR, "#policy-trial input[name=device]").send_keys("unit-1")
    Select(browser.find_element(By.CSS_SELECTOR, "#policy-trial select[name=action]")).select_by_visible_text("publish")
    browser.find_element(By.CSS_SELECTOR, "#policy-trial input[name=topic]").send_keys("floors/3/temp")
    browser.find_element(By.CSS_SELECTOR, "#policy-trial button").click()
    answer = browser.find_element(By.ID, "policy-answer").text
    assert "allow by floor-share" in answer and "applies" in answer
    shot(browser, "policy-02-tried")

    # A second version, then its changes against the first, then the first restored.
    narrower = json.loads(json.dumps(FLOORS))
    narrower["statements"][0]["actions"] = ["subscribe"]
    browser.get(warden.url + "/t/default/policy")
    write(browser, json.dumps(narrower, indent=2))
    wait_for_path(browser, "/t/default/policy")
    browser.find_element(By.LINK_TEXT, "Changes").click()
    diff = browser.find_element(By.ID, "policy-diff")
    removed = [row.text for row in diff.find_elements(By.CSS_SELECTOR, ".removed")]
    added = [row.text for row in diff.find_elements(By.CSS_SELECTOR, ".added")]
    assert any('"publish"' in line for line in removed) and added
    shot(browser, "policy-03-changes")
    restore = [form for form in browser.find_elements(By.CSS_SELECTOR, "#policy-versions form")
               if form.find_element(By.NAME, "version").get_attribute("value") == "1"][0]
    click_and_load(browser, restore.find_element(By.TAG_NAME, "button"))
    wait_for_path(browser, "/t/default/policy")
    assert "Version 3 enforced" in browser.find_element(By.TAG_NAME, "main").text
    versions = api.request(warden, "GET", "/api/v1/tenants/default/policies/versions", token=token).json["items"]
    assert [(v["version"], v.get("restoredFrom"), v["author"]) for v in versions] == [
        (3, 1, "user:sec"), (2, None, "user:sec"), (1, None, "user:sec")]


def test_a_reader_sees_the_policy_but_no_editor(warden, browser):
    api.create_user(warden, "watch", role="auditor")
    browser.get(warden.url + "/t/default/policy")
    sign_in(browser, warden, "watch")
    wait_for_path(browser, "/t/default/policy")
    assert browser.find_elements(By.ID, "policy-editor") == []
    assert "default.device-namespace" in browser.find_element(By.TAG_NAME, "main").text
    # The form post itself is refused for the role, whatever the page shows.
    status = api.request(warden, "POST", "/api/v1/tenants/default/policies/rollback",
                         token=api.sign_in(warden, "watch").json["access_token"], body={"version": 1}).status
    assert status == 403
