"""The staff site in a real browser: Debian's chromium, driven by Selenium through chromium-driver.

One browser and one site for the module (the site is the waitress server `mailbot run` starts,
in a thread here so the test can move the site's clock); sign-in letters go over SMTP to a real
aiosmtpd server. The tests run in order, as a staff member would: sign in through the mailed
link, decide two review items, see the board change, download the report.
"""
from __future__ import annotations

import datetime as dt
import email
import email.policy
import shutil
import time
from pathlib import Path

import openpyxl
import pytest

from mailbot.web.server import Background
from tests.servers import free_port, running_smtp
from tests.webgen import STAFF, LINK, fill, signin_mail_done, site_app

pytestmark = [pytest.mark.browser]  # the site's SQL runs on PostgreSQL in test_web.py

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

if not (Path(CHROMIUM).exists() and Path(DRIVER).exists()):  # .ci/run installs both
    pytest.fail(f"the browser tests need chromium and chromium-driver ({CHROMIUM}, {DRIVER}): "
                "apt-get install chromium chromium-driver", pytrace=False)


class Site:
    def __init__(self, tmp: Path):
        self.smtp_cm = running_smtp()
        self.smtp = self.smtp_cm.__enter__()
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        self.app = site_app(tmp, base_url=self.base, smtp={
            "host": self.smtp.host, "port": self.smtp.port, "security": "none",
            "from": "Phòng GD&ĐT thị xã Hương Thủy <pgd.test@example.org>"}, web_port=port)
        fill(self.app)
        self.server = Background(self.app)
        self.server.start()
        self.downloads = tmp / "downloads"
        self.downloads.mkdir()

    def letters(self, to: str = STAFF) -> list:
        with self.smtp.lock:
            return [email.message_from_bytes(m.raw, policy=email.policy.default)
                    for m in self.smtp.messages if m.rcpt_tos == [to]]

    def wait_letter(self, n: int, timeout: float = 60) -> str:
        """The link in the n-th sign-in letter to STAFF."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            got = self.letters()
            if len(got) >= n:
                return LINK.search(got[n - 1].get_body(("plain",)).get_content()).group(0)
            time.sleep(0.05)
        raise AssertionError(f"no sign-in letter number {n} within {timeout} s")

    def close(self) -> None:
        self.server.close()
        self.app.close()
        self.smtp_cm.__exit__(None, None, None)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    s = Site(tmp_path_factory.mktemp("browser"))
    yield s
    s.close()


@pytest.fixture(scope="module")
def browser(site):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=412,915", "--lang=vi"):  # a phone's screen
        options.add_argument(arg)
    options.add_experimental_option("prefs", {"download.default_directory": str(site.downloads),
                                              "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(site.downloads)})
    driver.implicitly_wait(0)
    yield driver
    driver.quit()


def by_css(driver, css: str):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, css)


def press(browser, button) -> None:
    """Click a button that loads a page, and wait until the new page is there.

    Each page is marked with a random number as the test first sees it; the new document has none.
    (Selenium's staleness_of may meet chromium's "node does not belong to the document" mid-navigation.)
    """
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    mark = "return window.__mark || (window.__mark = Math.random())"
    old = browser.execute_script(mark)
    button.click()

    def loaded(driver) -> bool:
        return driver.execute_script("return document.readyState") == "complete" and driver.execute_script(mark) != old

    WebDriverWait(browser, 60, ignored_exceptions=(WebDriverException,)).until(loaded)


def ask_link(browser, site, address: str) -> None:
    browser.get(site.base + "/dang-nhap")
    field = by_css(browser, 'input[name="email"]')
    field.clear()
    field.send_keys(address)
    press(browser, by_css(browser, 'form[action="/dang-nhap"] button'))
    assert "Nếu địa chỉ" in by_css(browser, "p.notice").text


def test_a_page_without_a_session_goes_to_sign_in(site, browser):
    for path in ("/", "/can-xem-xet", "/tai-ve/bao-cao.xlsx"):
        browser.get(site.base + path)
        assert browser.current_url == site.base + "/dang-nhap"
    assert by_css(browser, 'input[name="email"]')


def test_an_address_not_in_staff_gets_no_mail(site, browser):
    ask_link(browser, site, "nguoila@example.org")
    signin_mail_done()
    assert not site.letters("nguoila@example.org") and not site.letters()


def test_sign_in_through_the_mailed_link(site, browser):
    ask_link(browser, site, STAFF)
    link = site.wait_letter(1)
    assert link.startswith(site.base + "/dang-nhap/")
    browser.get(link)
    press(browser, by_css(browser, "#signin"))
    assert browser.current_url == site.base + "/"
    assert by_css(browser, "table#board")
    assert STAFF in by_css(browser, "header").text


def test_accept_one_review_item_with_a_unit_and_reject_another_with_a_reason(site, browser):
    from selenium.webdriver.support.ui import Select

    before = by_css(browser, 'tr[data-unit="tthtcd-thuy-chau"] td[data-form="mau2"]').get_attribute("data-status")
    assert before == "missing"
    browser.get(site.base + "/can-xem-xet")
    accept = by_css(browser, 'form[data-action="accept"][data-reference="HTSD2017-0004"]')
    picker = Select(accept.find_element("css selector", 'select[name="unit"]'))
    assert picker.first_selected_option.get_attribute("value") == "tthtcd-thuy-chau"  # the unit the report names
    picker.select_by_value("tthtcd-thuy-chau")
    press(browser, accept.find_element("css selector", "button"))
    assert "Hồ sơ HTSD2017-0004: đã ghi nhận cho Trung tâm HTCĐ phường Thủy Châu" in by_css(browser, ".notice").text
    reject = by_css(browser, 'form[data-action="reject"][data-reference="HTSD2017-0003"]')
    reject.find_element("css selector", 'input[name="reason"]').send_keys("Người gửi không phải cán bộ của đơn vị")
    press(browser, reject.find_element("css selector", "button"))
    assert "không ghi nhận (lý do: Người gửi không phải cán bộ của đơn vị)" in by_css(browser, ".notice").text
    assert "Không có hồ sơ nào cần xem xét." in by_css(browser, "main").text
    browser.get(site.base + "/")
    cell = by_css(browser, 'tr[data-unit="tthtcd-thuy-chau"] td[data-form="mau2"]')
    assert cell.get_attribute("data-status") == "received" and "HTSD2017-0004" in cell.text
    browser.get(site.base + "/ho-so/HTSD2017-0003")
    assert f"{STAFF} (trên trang cán bộ) không ghi nhận" in by_css(browser, ".history").text


def test_download_the_report_and_open_it(site, browser):
    browser.get(site.base + "/tai-ve")
    by_css(browser, 'a[href="/tai-ve/bao-cao.xlsx"]').click()
    end = time.monotonic() + 60
    files: list[Path] = []
    while time.monotonic() < end:
        files = [p for p in site.downloads.iterdir() if p.suffix == ".xlsx"]
        if files:
            break
        time.sleep(0.1)
    assert files, list(site.downloads.iterdir())
    wb = openpyxl.load_workbook(files[0])
    values = [v for ws in wb for row in ws.iter_rows(values_only=True) for v in row if v is not None]
    assert 270 in values  # Tờ rơi: Phú Bài's 200 and Thủy Châu's 70, accepted a moment ago
    assert browser.current_url == site.base + "/tai-ve"  # downloaded, not shown


def test_a_post_without_the_csrf_token_is_refused(site, browser):
    browser.get(site.base + "/ho-so/HTSD2017-0002")
    browser.execute_script("document.querySelectorAll('input[name=csrf]').forEach(e => e.remove())")
    form = by_css(browser, 'form[data-action="reject"]')
    form.find_element("css selector", 'input[name="reason"]').send_keys("thử")
    press(browser, form.find_element("css selector", "button"))
    assert "Biểu mẫu đã cũ" in by_css(browser, "main").text
    browser.get(site.base + "/ho-so/HTSD2017-0002")
    assert "Đã tiếp nhận" in by_css(browser, "dl").text


def test_a_used_or_expired_link_does_not_sign_in(site, browser):
    used = site.wait_letter(1)
    browser.get(site.base + "/")
    press(browser, by_css(browser, ".signout button"))
    assert browser.current_url == site.base + "/dang-nhap"
    browser.get(used)
    assert "đã được dùng hoặc đã hết hạn" in by_css(browser, "main").text
    browser.get(site.base + "/")
    assert browser.current_url == site.base + "/dang-nhap"

    ask_link(browser, site, STAFF)
    fresh = site.wait_letter(2)
    browser.get(fresh)
    real = site.app.clock
    site.app.clock = lambda: real() + dt.timedelta(minutes=16)
    try:
        press(browser, by_css(browser, "#signin"))
        assert "đã được dùng hoặc đã hết hạn" in by_css(browser, "main").text
        browser.get(site.base + "/")
        assert browser.current_url == site.base + "/dang-nhap"
    finally:
        site.app.clock = real
