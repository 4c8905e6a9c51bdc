"""Take the README's screenshot of the staff site: the demo's records, signed in, in headless chromium.

    python tools/web_screenshot.py [docs/staff-site.png]

Runs `mailbot demo` into a throwaway folder, serves its records with the staff site
(sign-in letters go to the demo's outbox folder), signs in through the mailed link
with Selenium and saves a PNG of the board (the community learning centres).
Needs chromium and chromium-driver (Debian: apt-get install chromium chromium-driver).
"""
from __future__ import annotations

import re
import sys
import tempfile
import threading
import time
from email import message_from_bytes, policy
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/staff-site.png").resolve()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    from mailbot import config as cfgmod
    from mailbot import demo
    from mailbot.app import fixed_clock, open_app
    from mailbot.web.server import make_server, stop
    from tests.servers import free_port

    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        demo.run_demo(root, echo=lambda *_: None)
        port = free_port()
        cfg = cfgmod.load(root / "mailbot.toml")
        import dataclasses

        cfg = dataclasses.replace(cfg, web=dataclasses.replace(cfg.web, port=port, base_url=f"http://127.0.0.1:{port}"))
        app = open_app(cfg, fixed_clock(demo.DEMO_NOW))
        start = time.monotonic()
        app.clock = lambda: demo.DEMO_NOW + (time.monotonic() - start) * __import__("datetime").timedelta(seconds=1)
        server = make_server(app)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                    "--window-size=1100,900", "--hide-scrollbars", "--force-device-scale-factor=1"):
            options.add_argument(arg)
        browser = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        try:
            base = f"http://127.0.0.1:{port}"
            browser.get(base + "/dang-nhap")
            browser.find_element(By.NAME, "email").send_keys(app.config.web_staff[0])
            browser.find_element(By.CSS_SELECTOR, "form button").click()
            outbox = Path(app.config.smtp.directory)
            for _ in range(200):
                letters = list(outbox.glob("signin-*.eml"))
                if letters:
                    break
                time.sleep(0.05)
            text = message_from_bytes(letters[0].read_bytes(), policy=policy.default).get_body(("plain",)).get_content()
            browser.get(re.search(r"http://\S+/dang-nhap/\S+", text).group(0))
            browser.find_element(By.ID, "signin").click()
            time.sleep(0.5)
            browser.get(base + "/?loai=tthtcd")
            time.sleep(0.5)
            out.parent.mkdir(parents=True, exist_ok=True)
            browser.save_screenshot(str(out))
        finally:
            browser.quit()
            stop(server, thread)
            app.close()
    from PIL import Image

    im = Image.open(out).convert("P", palette=Image.ADAPTIVE, colors=64)  # a small PNG for the repository
    im.save(out, optimize=True)
    print(f"{out}: {out.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()
