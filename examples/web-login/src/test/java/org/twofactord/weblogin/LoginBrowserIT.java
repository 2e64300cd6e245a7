package org.twofactord.weblogin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.extension.TestWatcher;
import org.openqa.selenium.By;
import org.openqa.selenium.Cookie;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.StaleElementReferenceException;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;

/**
 * End to end: the web-login example in Debian's headless Chromium (driven through Debian's
 * chromedriver by Selenium WebDriver), against a real daemon. Not a unit test: surefire leaves
 * {@code *IT} classes out of {@code mvn verify}; run-browser-test.sh starts the daemon and the web
 * app and runs this with {@code -Dtest=LoginBrowserIT}, passing in the environment: BASE_URL,
 * SCREENSHOT_DIR, PASSWORD (every demo user's), TOTP_WINDOW (the daemon's {@code window}), and
 * SECRETS_FILE, where every key, code and backup code the test saw is noted, for the script to
 * check that no log holds one.
 *
 * <p>The steps build on each other and run in order; after a failure the rest are skipped.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class LoginBrowserIT {
    /** Debian's packages: chromium and chromium-driver. Named, so that Selenium Manager never downloads one. */
    static final Path CHROMIUM = Path.of("/usr/bin/chromium");
    static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");
    static final Duration TIMEOUT = Duration.ofSeconds(15);
    /**
     * Selenium looks for a DevTools binding (selenium-devtools-vNNN) matching Chromium's version,
     * and warns when there is none. This test needs none: its few DevTools calls go through
     * chromedriver. Kept in a field because java.util.logging holds its loggers weakly.
     */
    static final Logger CDP_VERSION_FINDER = Logger.getLogger("org.openqa.selenium.devtools.CdpVersionFinder");

    final String base = env("BASE_URL");
    final Path shots = Path.of(env("SCREENSHOT_DIR"));
    final String password = env("PASSWORD");
    final int window = Integer.parseInt(System.getenv().getOrDefault("TOTP_WINDOW", "1"));
    final Path secrets = Path.of(env("SECRETS_FILE"));

    ChromeDriver driver;
    Path userDataDir;
    int shot;
    boolean failed;

    Authenticator alice;
    List<String> aliceBackup;
    String aliceUsed;
    Authenticator bob;

    static String env(String name) {
        String value = System.getenv(name);
        assertTrue(value != null && !value.isEmpty(), name + " is not set: run me from run-browser-test.sh");
        return value;
    }

    /** Notes secrets for the log check; returns the first. */
    String noted(String... values) {
        try {
            Files.writeString(secrets, Stream.of(values).map(s -> s + "\n").collect(Collectors.joining()),
                    StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new AssertionError("cannot note secrets in " + secrets, e);
        }
        return values[0];
    }

    // ---- TOTP (RFC 6238, SHA-1, 6 digits, 30 s), as an authenticator app makes it ----

    static byte[] base32Decode(String text) {
        String alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        int bits = 0;
        int value = 0;
        ByteBuffer out = ByteBuffer.allocate(text.length());
        for (char c : text.replaceAll("[\\s=]", "").toUpperCase(Locale.ROOT).toCharArray()) {
            int v = alphabet.indexOf(c);
            assertTrue(v >= 0, "not Base32: " + c);
            value = ((value << 5) | v) & 0xffff;
            bits += 5;
            if (bits >= 8) {
                out.put((byte) (value >>> (bits - 8)));
                bits -= 8;
            }
        }
        return Arrays.copyOf(out.array(), out.position());
    }

    static String totp(byte[] key, long step) {
        try {
            Mac mac = Mac.getInstance("HmacSHA1");
            mac.init(new SecretKeySpec(key, "HmacSHA1"));
            byte[] h = mac.doFinal(ByteBuffer.allocate(8).putLong(step).array());
            int offset = h[h.length - 1] & 0x0f;
            int binary = ByteBuffer.wrap(h, offset, 4).getInt() & 0x7fffffff;
            return String.format("%06d", binary % 1_000_000);
        } catch (GeneralSecurityException e) {
            throw new AssertionError(e);
        }
    }

    // The daemon runs on the real clock, so this test reads it too.
    static long nowStep() {
        return System.currentTimeMillis() / 30_000;
    }

    /**
     * A phone's authenticator for one key. The daemon accepts each step once, and steps within
     * {@code window} of now: next() hands out the following unused step, keeping one step clear of
     * either edge, and waits for the clock only when it must.
     */
    final class Authenticator {
        final byte[] key;
        long lastStep = Long.MIN_VALUE / 2;

        Authenticator(String secret) {
            key = base32Decode(secret);
        }

        String next() throws InterruptedException {
            for (;;) {
                long now = nowStep();
                long step = Math.max(lastStep + 1, now - window + 1);
                if (step <= now + Math.max(0, window - 1)) {
                    lastStep = step;
                    return noted(totp(key, step));
                }
                Thread.sleep(1000);
            }
        }

        /** A six-digit code that no step near now has. */
        String wrong() {
            Set<String> near = new HashSet<>();
            for (long s = nowStep() - 20; s <= nowStep() + 20; s++) {
                near.add(totp(key, s));
            }
            for (int n = 0; ; n++) {
                String code = String.format("%06d", (123456 + n * 7919) % 1_000_000);
                if (!near.contains(code)) {
                    return code;
                }
            }
        }
    }

    // ---- the browser ----

    @BeforeAll
    void startBrowser() throws IOException {
        CDP_VERSION_FINDER.setLevel(Level.SEVERE);
        Files.createDirectories(shots);
        userDataDir = Files.createTempDirectory("web-login-chromium-");
        ChromeOptions options = new ChromeOptions();
        options.setBinary(CHROMIUM.toFile());
        options.addArguments("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1000,700", "--user-data-dir=" + userDataDir);
        ChromeDriverService service = new ChromeDriverService.Builder()
                .usingDriverExecutable(CHROMEDRIVER.toFile())
                .usingAnyFreePort()
                .build();
        driver = new ChromeDriver(service, options);
        driver.manage().timeouts().pageLoadTimeout(TIMEOUT).scriptTimeout(TIMEOUT);
        // The viewport itself 1000 x 700, whatever the window's frame takes.
        driver.executeCdpCommand("Emulation.setDeviceMetricsOverride",
                Map.of("width", 1000, "height", 700, "deviceScaleFactor", 1, "mobile", false));
    }

    @AfterAll
    void stopBrowser() throws IOException {
        if (driver != null) {
            driver.quit();
        }
        if (userDataDir != null) {
            try (Stream<Path> files = Files.walk(userDataDir)) {
                for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    /** After a failure the rest of the steps are skipped: they build on it. */
    @BeforeEach
    void skipAfterAFailure() {
        assumeFalse(failed, "an earlier step failed");
    }

    @RegisterExtension
    final TestWatcher onFailure = new TestWatcher() {
        @Override
        public void testFailed(ExtensionContext context, Throwable cause) {
            failed = true;
            try {
                screenshot("FAILED-" + context.getDisplayName());
            } catch (RuntimeException | IOException e) {
                cause.addSuppressed(e);
            }
        }
    };

    /** A full-page screenshot, numbered in the order taken. */
    void screenshot(String name) throws IOException {
        shot += 1;
        String file = String.format("%02d-%s.png", shot, name.replaceAll("[^A-Za-z0-9]+", "-").toLowerCase(Locale.ROOT));
        // WebDriver's own screenshot is of the viewport only; Chromium's DevTools take the whole page.
        Map<String, Object> metrics = driver.executeCdpCommand("Page.getLayoutMetrics", Map.of());
        @SuppressWarnings("unchecked")
        Map<String, Number> size = (Map<String, Number>) metrics.get("cssContentSize");
        Map<String, Object> clip = new LinkedHashMap<>();
        clip.put("x", 0);
        clip.put("y", 0);
        clip.put("width", Math.max(1000, Math.ceil(size.get("width").doubleValue())));
        clip.put("height", Math.max(700, Math.ceil(size.get("height").doubleValue())));
        clip.put("scale", 1);
        Map<String, Object> png = driver.executeCdpCommand("Page.captureScreenshot",
                Map.of("format", "png", "captureBeyondViewport", true, "clip", clip));
        Files.write(shots.resolve(file), Base64.getDecoder().decode((String) png.get("data")));
    }

    void open(String path) {
        driver.get(base + path);
    }

    String path() {
        return URI.create(driver.getCurrentUrl()).getPath();
    }

    /** The HTTP status of the page now shown, from the browser's Navigation Timing entry. */
    long status() {
        Object status = driver.executeScript("return performance.getEntriesByType('navigation')[0].responseStatus;");
        return ((Number) status).longValue();
    }

    WebElement find(String css) {
        return driver.findElement(By.cssSelector(css));
    }

    List<WebElement> findAll(String css) {
        return driver.findElements(By.cssSelector(css));
    }

    /** The elements of {@code css} whose text contains {@code text}, in any case. */
    List<WebElement> withText(String css, String text) {
        String wanted = text.toLowerCase(Locale.ROOT);
        return findAll(css).stream().filter(e -> innerText(e).toLowerCase(Locale.ROOT).contains(wanted)).toList();
    }

    /** The element's {@code innerText} as the page has it (WebDriver's getText() trims and normalises it its own way). */
    String innerText(WebElement element) {
        return (String) driver.executeScript("return arguments[0].innerText;", element);
    }

    String text(String css) {
        return innerText(find(css));
    }

    String alertText() {
        List<WebElement> alerts = findAll(".alert");
        assertFalse(alerts.isEmpty(), "a message on " + path());
        return innerText(alerts.get(0));
    }

    void fill(String css, String value) {
        WebElement field = find(css);
        field.clear();
        field.sendKeys(value);
        assertEquals(value, field.getDomProperty("value"), css + " filled");
    }

    void check(String css) {
        WebElement box = find(css);
        if (!box.isSelected()) {
            box.click();
        }
        assertTrue(box.isSelected(), css + " checked");
    }

    /** Clicks and waits for the next page to load (a POST's answer, or the page it redirects to). */
    void click(WebElement target) {
        WebElement page = driver.findElement(By.tagName("html"));
        target.click();
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        for (;;) {
            try {
                page.isEnabled();
            } catch (StaleElementReferenceException gone) {
                if ("complete".equals(driver.executeScript("return document.readyState;"))) {
                    return;
                }
            }
            if (System.nanoTime() > deadline) {
                fail("no new page loaded within " + TIMEOUT.toSeconds() + " s of the click (still on " + path() + ")");
            }
            try {
                TimeUnit.MILLISECONDS.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }
    }

    void click(String css) {
        click(find(css));
    }

    /** Clicks the one link or button whose text contains {@code text}: two would make the step ambiguous. */
    void clickText(String text) {
        clickText("", text);
    }

    void clickText(String scopeXpath, String text) {
        String contains = "contains(normalize-space(.), '" + text + "')";
        List<WebElement> targets = driver.findElements(By.xpath(
                scopeXpath + "//a[" + contains + "] | " + scopeXpath + "//button[" + contains + "]"));
        assertEquals(1, targets.size(), "one link or button '" + text + "' on " + path());
        click(targets.get(0));
    }

    void logIn(String user) {
        logIn(user, "/account");
    }

    void logIn(String user, String expect) {
        open("/login");
        fill("#user", user);
        fill("#pass", password);
        click("button[type=submit]");
        assertEquals(expect, path(), user + " logged in to " + expect);
    }

    void logOut() {
        click("header form.logout button");
        assertEquals("/login", path());
    }

    void typeCode(String code) {
        typeCode(code, "button.primary");
    }

    void typeCode(String code, String button) {
        fill("#code", code);
        click(button);
    }

    /** The key shown on the setup page, and the QR code's URL read back with zbarimg. */
    String readSetupPage() throws IOException, InterruptedException {
        String secret = text("#key").replaceAll("\\s+", "");
        assertMatches("^[A-Z2-7]{32}$", secret);
        noted(secret);
        Path qrFile = shots.resolveSibling("qr.png");
        Files.write(qrFile, find("img.qr").getScreenshotAs(OutputType.BYTES));
        // run-browser-test.sh installs zbar-tools: a missing zbarimg fails here rather than skip the check.
        Process zbar = new ProcessBuilder("zbarimg", "--quiet", "--raw", qrFile.toString())
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String url = new String(zbar.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        assertEquals(0, zbar.waitFor(), "zbarimg read a code in " + qrFile);
        assertTrue(Pattern.compile("^otpauth://totp/.*secret=" + secret + "&").matcher(url).find(),
                "the QR code holds the key shown: " + url);
        return secret;
    }

    static void assertMatches(String regex, String actual) {
        assertMatches(regex, actual, null);
    }

    static void assertMatches(String regex, String actual, String message) {
        assertTrue(Pattern.compile(regex).matcher(actual).find(),
                (message == null ? "" : message + ": ") + "'" + actual + "' does not match /" + regex + "/");
    }

    /** A POST with this browser's cookies but not through a page: no CSRF token unless given. */
    int postOutsideThePage(String path, Map<String, String> form) throws IOException, InterruptedException {
        String cookies = driver.manage().getCookies().stream().map(c -> c.getName() + "=" + c.getValue())
                .collect(Collectors.joining("; "));
        String body = form.entrySet().stream()
                .map(e -> URLEncoder.encode(e.getKey(), StandardCharsets.UTF_8) + "=" + URLEncoder.encode(e.getValue(), StandardCharsets.UTF_8))
                .collect(Collectors.joining("&"));
        HttpClient http = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NEVER).build();
        HttpResponse<Void> res = http.send(HttpRequest.newBuilder(URI.create(base + path))
                .header("Content-Type", "application/x-www-form-urlencoded").header("Cookie", cookies)
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.discarding());
        return res.statusCode();
    }

    // ---- the scenario ----

    @Test
    @Order(1)
    @DisplayName("the administrator logs in with his password alone and enables two-factor authentication")
    void administratorEnablesTwoFactor() throws IOException {
        open("/");
        assertEquals("/login", path());
        screenshot("login");
        Cookie cookie = driver.manage().getCookieNamed("twofactord_web");
        assertNotNull(cookie, "a session cookie");
        assertTrue(cookie.isHttpOnly());
        assertEquals("Strict", cookie.getSameSite());

        fill("#user", "root");
        fill("#pass", "not the password");
        click("button[type=submit]");
        assertEquals("The login is invalid.", alertText());

        logIn("root");
        clickText("//header//nav", "Two-Factor Authentication");
        check("input[name=mode][value=optional]");
        click("form[action=\"/admin/policy\"] button");
        assertEquals("/admin", path());
        assertEquals("The security policy is now Enabled.", alertText());
        fill("#issuer", "Example Hosting");
        click("form[action=\"/admin/issuer\"] button[value=save]");
        assertEquals("/admin", path());
        assertMatches("The issuer is now .Example Hosting.", alertText());
        screenshot("admin-policy-enabled");
        logOut();
    }

    @Test
    @Order(2)
    @DisplayName("alice sets up two-factor authentication on Manage My Account")
    void aliceSetsUp() throws Exception {
        logIn("alice");
        assertMatches("not configured", text(".state"));
        screenshot("account-not-configured");
        clickText("Set Up Two-Factor Authentication");
        assertEquals("alice", text("#account"));
        assertEquals("Example Hosting", text("#issuer"));
        WebElement code = find("#code");
        assertEquals("one-time-code", code.getDomAttribute("autocomplete"));
        assertEquals("numeric", code.getDomAttribute("inputmode"));
        alice = new Authenticator(readSetupPage());
        screenshot("setup-qr-code");

        typeCode(alice.wrong());
        assertMatches("^The security code is invalid\\.", alertText());
        typeCode(alice.next());
        assertMatches("now configured", alertText());
        aliceBackup = findAll("ol.codes code").stream().map(this::innerText).toList();
        List<String> both = new ArrayList<>(aliceBackup);
        aliceBackup.forEach(c -> both.add(c.replace("-", "")));
        noted(both.toArray(String[]::new));
        assertEquals(10, aliceBackup.size());
        aliceBackup.forEach(c -> assertMatches("^\\d{5}-\\d{5}$", c));
        screenshot("backup-codes-shown-once");
        clickText("Continue");
        assertMatches("is configured", text(".state"));
        assertEquals("10", innerText(findAll("dl.facts dd").get(2)));
        screenshot("account-configured");
    }

    @Test
    @Order(3)
    @DisplayName("a form without the session's CSRF token is refused")
    void formWithoutCsrfTokenIsRefused() throws Exception {
        Map<String, String> noToken = new LinkedHashMap<>();
        noToken.put("action", "remove");
        noToken.put("code", "123456");
        Map<String, String> forged = new LinkedHashMap<>(noToken);
        forged.put("csrf", "forged");
        for (Map<String, String> form : List.of(noToken, forged)) {
            assertEquals(403, postOutsideThePage("/account/change", form), "POST " + form);
        }
        // The account is untouched.
        open("/account");
        assertMatches("is configured", text(".state"));
        logOut();
    }

    @Test
    @Order(4)
    @DisplayName("alice logs in with her password and a code; a wrong code is invalid")
    void aliceLogsInWithACode() throws Exception {
        logIn("alice", "/login/code");
        WebElement code = find("#code");
        assertEquals("one-time-code", code.getDomAttribute("autocomplete"));
        assertEquals("numeric", code.getDomAttribute("inputmode"));
        screenshot("security-code-page");
        // The code page is all this session may see.
        open("/account");
        assertEquals("/login/code", path());

        typeCode(alice.wrong());
        assertEquals("The security code is invalid.", alertText());
        screenshot("security-code-invalid");
        aliceUsed = alice.next();
        typeCode(aliceUsed);
        assertEquals("/account", path());
        assertMatches("Last used\\s+\\d{4}-\\d\\d-\\d\\d", text("dl.facts"));
        logOut();
    }

    @Test
    @Order(5)
    @DisplayName("the same code again is refused as already used")
    void replayedCodeIsRefused() throws Exception {
        logIn("alice", "/login/code");
        typeCode(aliceUsed);
        assertMatches("^The security code is invalid: it was already used", alertText());
        screenshot("security-code-replayed");
        typeCode(alice.next());
        assertEquals("/account", path());
        logOut();
    }

    @Test
    @Order(6)
    @DisplayName("five wrong codes lock the account; even a right code is refused until the lock ends")
    void fiveWrongCodesLock() throws Exception {
        logIn("alice", "/login/code");
        for (int i = 1; i <= 5; i++) {
            typeCode(alice.wrong());
            assertEquals("The security code is invalid.", alertText(), "wrong code " + i);
        }
        typeCode(alice.next());
        String locked = alertText();
        assertMatches("^Too many failed attempts: .* locked\\. Try again in \\d+ seconds? \\(after \\d\\d:\\d\\d:\\d\\d UTC\\)\\.$", locked);
        assertEquals("/login/code", path(), "still not in");
        screenshot("locked");
        Matcher wait = Pattern.compile("Try again in (\\d+) second").matcher(locked);
        assertTrue(wait.find());
        // The daemon's lockout runs on the real clock (lockout_s = 2 in the script's config).
        Thread.sleep(Long.parseLong(wait.group(1)) * 1000 + 500);
    }

    @Test
    @Order(7)
    @DisplayName("after the lock, alice logs in with a backup code")
    void backupCodeAfterTheLock() throws Exception {
        clickText("Use a backup code");
        assertEquals("/login/backup", path());
        assertEquals("numeric", find("#code").getDomAttribute("inputmode"));
        fill("#code", aliceBackup.get(0));
        screenshot("backup-code-page");
        click("button.primary");
        assertEquals("/account", path());
        assertEquals("You logged in with a backup code. You have 9 backup codes left.", alertText());
        screenshot("logged-in-with-backup-code");
    }

    @Test
    @Order(8)
    @DisplayName("new backup codes only after a current code")
    void newBackupCodesNeedACurrentCode() throws Exception {
        typeCode(alice.wrong(), "button[value=backup]");
        assertEquals("The security code is invalid.", alertText());
        typeCode(aliceBackup.get(0), "button[value=backup]");
        assertEquals("The security code is invalid.", alertText(), "a used backup code is no proof");
        typeCode(alice.next(), "button[value=backup]");
        assertEquals("New backup codes replace your old ones.", alertText());
        List<String> fresh = findAll("ol.codes code").stream().map(this::innerText).toList();
        noted(fresh.toArray(String[]::new));
        assertEquals(10, fresh.size());
        assertFalse(fresh.contains(aliceBackup.get(1)));
        screenshot("new-backup-codes");
        clickText("Continue");
        assertEquals("10", innerText(findAll("dl.facts dd").get(2)));
        // Not an administrator: no admin page; she owns no accounts: no Manage Users either.
        assertEquals(0, withText("header nav a", "Two-Factor Authentication").size());
        open("/admin");
        assertEquals(403, status());
        assertEquals(0, withText("header nav a", "Manage Users").size());
        open("/reseller");
        assertEquals(403, status(), "the daemon refuses alice the accounts of a reseller");
        assertMatches("Only a reseller", alertText());
        logOut();
    }

    @Test
    @Order(9)
    @DisplayName("bob reconfigures (a new key) and then removes his two-factor authentication, each only with a current code")
    void bobReconfiguresAndRemoves() throws Exception {
        logIn("bob");
        clickText("Set Up Two-Factor Authentication");
        bob = new Authenticator(readSetupPage());
        typeCode(bob.next());
        clickText("Continue");

        typeCode(bob.wrong(), "button[value=reconfigure]");
        assertEquals("The security code is invalid.", alertText());
        typeCode(bob.next(), "button[value=reconfigure]");
        Authenticator oldKey = bob;
        bob = new Authenticator(readSetupPage());
        assertFalse(Arrays.equals(bob.key, oldKey.key), "a new key");
        typeCode(bob.next());
        assertMatches("now configured", alertText());
        clickText("Continue");
        typeCode(oldKey.next(), "button[value=remove]");
        assertEquals("The security code is invalid.", alertText(), "the old key stopped working");

        typeCode(bob.wrong(), "button[value=remove]");
        assertEquals("The security code is invalid.", alertText());
        assertMatches("is configured", text(".state"));
        screenshot("remove-needs-a-code");
        typeCode(bob.next(), "button[value=remove]");
        assertEquals("Two-factor authentication is removed from your account.", alertText());
        assertMatches("not configured", text(".state"));
        logOut();
    }

    /** The row of {@code user} in Manage Users, found anew on each call (the page reloads). */
    String userRow(String user) {
        List<WebElement> rows = withText("table.users tr", user);
        assertEquals(1, rows.size(), "one row for " + user);
        return innerText(rows.get(0));
    }

    @Test
    @Order(10)
    @DisplayName("the administrator resets alice and requires two-factor authentication")
    void administratorResetsAliceAndRequires() throws Exception {
        logIn("root");
        open("/reseller");
        assertEquals("/admin", path(), "the administrator has his own page for every user");
        assertMatches("Configured", userRow("alice"));
        assertMatches("Not configured", userRow("bob"));
        screenshot("admin-manage-users");
        check("#u-alice");
        click("form[action=\"/admin/users\"] button[value=reset]");
        assertEquals("/admin", path());
        assertEquals("Two-factor authentication was reset for: alice.", alertText());
        assertMatches("Not configured", userRow("alice"));
        check("input[name=mode][value=required]");
        click("form[action=\"/admin/policy\"] button");
        assertEquals("/admin", path());
        assertEquals("The security policy is now Required.", alertText());
        screenshot("admin-policy-required");
        logOut();
    }

    @Test
    @Order(11)
    @DisplayName("with the policy required, alice is sent to set up two-factor authentication, not let in")
    void requiredPolicySendsAliceToSetUp() throws Exception {
        logIn("alice");
        assertMatches("requires two-factor authentication", alertText());
        assertEquals(0, findAll("header nav a").size(), "no way into the panel yet");
        screenshot("enrolment-required");
        for (String other : List.of("/", "/admin")) {
            open(other);
            assertEquals("/account", path(), other + " leads back to the setup");
        }
        clickText("Set Up Two-Factor Authentication");
        alice = new Authenticator(readSetupPage());
        typeCode(alice.next());
        assertMatches("now configured", alertText());
        clickText("Continue");
        assertEquals(1, withText("header nav a", "Manage My Account").size(), "now in");
        assertEquals(0, findAll("button[value=remove]").size(), "required: no removing");
        logOut();
    }

    // ---- a reseller: reseller1 owns alice and bob, reseller2 owns carol (run-browser-test.sh's owners file) ----

    /** A first login under the "required" policy: the user sets up 2FA before anything else. */
    Authenticator setUpAtFirstLogin(String user) throws Exception {
        logIn(user);
        assertMatches("requires two-factor authentication", alertText());
        clickText("Set Up Two-Factor Authentication");
        Authenticator phone = new Authenticator(readSetupPage());
        typeCode(phone.next());
        assertMatches("now configured", alertText());
        noted(findAll("ol.codes code").stream().map(this::innerText).toArray(String[]::new));
        clickText("Continue");
        return phone;
    }

    /** The user names of the Manage Users table, in its order. */
    List<String> listedUsers() {
        return findAll("table.users tbody tr").stream()
                .map(row -> innerText(row.findElements(By.tagName("td")).get(1)).strip().split("\\s+")[0]).toList();
    }

    /** The cells of {@code user}'s row in Manage Users, found anew on each call. */
    List<String> userCells(String user) {
        List<WebElement> rows = findAll("table.users tbody tr").stream()
                .filter(row -> innerText(row.findElements(By.tagName("td")).get(1)).strip().startsWith(user)).toList();
        assertEquals(1, rows.size(), "one row for " + user);
        return rows.get(0).findElements(By.tagName("td")).stream().map(this::innerText).map(String::strip).toList();
    }

    static final int STATUS = 2;
    static final int FAILED_ATTEMPTS = 6;

    @Test
    @Order(12)
    @DisplayName("bob and carol set up two-factor authentication at their next login; alice mistypes her code four times")
    void bobAndCarolSetUpAliceMistypes() throws Exception {
        bob = setUpAtFirstLogin("bob");
        logOut();
        setUpAtFirstLogin("carol");
        logOut();
        // One short of the lock (max_failures = 5): the failures stay counted for the reseller to see.
        logIn("alice", "/login/code");
        for (int i = 1; i <= 4; i++) {
            typeCode(alice.wrong());
            assertEquals("The security code is invalid.", alertText(), "wrong code " + i);
        }
        // She gives up; the code page has no log-out.
        driver.manage().deleteAllCookies();
    }

    @Test
    @Order(13)
    @DisplayName("reseller1 logs in and sees Manage Users with only its accounts; it unlocks alice")
    void resellerSeesOnlyItsAccountsAndUnlocks() throws Exception {
        setUpAtFirstLogin("reseller1");
        assertEquals(1, withText("header nav a", "Manage Users").size(), "a reseller's link");
        assertEquals(0, withText("header nav a", "Two-Factor Authentication").size(), "no administrator's page");
        clickText("//header//nav", "Manage Users");
        assertEquals("/reseller", path());
        // From the daemon's USERS as=reseller1: its accounts and itself; not carol, reseller2 or root.
        assertEquals(List.of("alice", "bob", "reseller1"), listedUsers());
        assertMatches("^Configured", userCells("alice").get(STATUS));
        assertEquals("4", userCells("alice").get(FAILED_ATTEMPTS));
        assertMatches("^Configured", userCells("bob").get(STATUS));
        assertEquals(0, findAll("input[name=user][value=reseller1]").size(), "its own account is changed on Manage My Account");
        assertEquals("reseller1 (you)", userCells("reseller1").get(1));
        screenshot("reseller-manage-users");

        check("#u-alice");
        click("form[action=\"/reseller/users\"] button[value=unlock]");
        assertEquals("/reseller", path());
        assertEquals("Unlocked: alice.", alertText());
        assertEquals("0", userCells("alice").get(FAILED_ATTEMPTS), "the daemon forgot her failures");
        screenshot("reseller-unlocked");
    }

    @Test
    @Order(14)
    @DisplayName("reseller1 resets bob, then every account it owns except its own")
    void resellerResetsSelectedThenAllButItsOwn() throws Exception {
        check("#u-bob");
        click("form[action=\"/reseller/users\"] button[value=reset]");
        assertEquals("/reseller", path());
        assertEquals("Two-factor authentication was reset for: bob.", alertText());
        assertMatches("^Not configured", userCells("bob").get(STATUS));
        assertMatches("^Configured", userCells("alice").get(STATUS));

        check("form[action=\"/reseller/reset-all\"] input[name=confirm]");
        screenshot("reseller-reset-all");
        clickText("Reset All, Except My Own Account");
        assertEquals("/reseller", path());
        assertEquals("Two-factor authentication was reset for 1 account you own: alice. Your own account keeps it.",
                alertText());
        assertMatches("^Not configured", userCells("alice").get(STATUS));
        assertMatches("^Configured", userCells("reseller1").get(STATUS), "its own account is spared");
        screenshot("reseller-reset-all-done");
    }

    @Test
    @Order(15)
    @DisplayName("a form tampered with to name carol, another reseller's account, gets the daemon's forbidden")
    void forgedFormNamingAnotherResellersAccountIsRefused() throws Exception {
        // As if the page had been tricked: the form's checkbox now names carol.
        driver.executeScript("arguments[0].value = 'carol';", find("#u-bob"));
        check("#u-bob");
        click("form[action=\"/reseller/users\"] button[value=reset]");
        assertEquals(403, status());
        assertEquals("The daemon refused to reset carol: you may change only the accounts you own (forbidden)."
                + " Nothing was changed.", alertText());
        assertEquals(List.of("alice", "bob", "reseller1"), listedUsers(), "still only its own accounts");
        screenshot("reseller-forged-carol-refused");

        // Unlock alice and carol: the daemon unlocks alice, then refuses carol.
        driver.executeScript("arguments[0].value = 'carol';", find("#u-bob"));
        check("#u-alice");
        check("#u-bob");
        click("form[action=\"/reseller/users\"] button[value=unlock]");
        assertEquals(403, status());
        assertEquals("The daemon refused to unlock carol: you may change only the accounts you own (forbidden)."
                + " Done before the refusal: alice.", alertText());
        logOut();
    }

    @Test
    @Order(16)
    @DisplayName("reseller2 sees only carol, still configured")
    void otherResellerSeesOnlyCarolStillConfigured() throws Exception {
        setUpAtFirstLogin("reseller2");
        clickText("//header//nav", "Manage Users");
        assertEquals(List.of("carol", "reseller2"), listedUsers());
        assertMatches("^Configured", userCells("carol").get(STATUS), "the forged reset did not reach carol");
        screenshot("reseller2-manage-users");
        logOut();
    }
}
