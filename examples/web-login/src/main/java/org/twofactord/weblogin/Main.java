package org.twofactord.weblogin;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import org.twofactord.protocol.TwoFactorClient;
import org.twofactord.protocol.UserNames;

/**
 * The example's command line.
 *
 * <pre>
 * web-login serve --passwords FILE [--socket PATH] [--port N] [--port-file FILE] [--admin NAME]... [--secure-cookie]
 * web-login passwd FILE USER [--iterations N]      (the password is read from standard input)
 * </pre>
 */
public final class Main {
    static final String USAGE = """
            usage: web-login serve --passwords FILE [--socket PATH] [--port N] [--port-file FILE]
                                   [--admin NAME]... [--secure-cookie]
                   web-login passwd FILE USER [--iterations N]   (reads the password from standard input)

            serve    the demo panel on http://127.0.0.1:PORT/ (port 0, the default: any free port,
                     printed and written to --port-file); --admin names a panel administrator
                     (default root); --secure-cookie when a TLS proxy is in front. A reseller is
                     whoever the daemon shows owning accounts (its owners_file): it gets Manage
                     Users for them, every request made as= itself. The panel must run as root or
                     in the daemon's admin group for as= (and for the administrator's page)
            passwd   adds USER to the password file, or sets a new password (serve reads the
                     file once, at start: restart it to take the change)
            """;

    private Main() {
    }

    public static void main(String[] args) {
        System.setProperty("java.util.logging.SimpleFormatter.format", "%1$tFT%1$tT %4$s %5$s%6$s%n");
        System.setProperty("java.awt.headless", "true");
        System.exit(run(args, System.in, System.out, System.err));
    }

    /** Runs one command and returns its exit status: 0 ok, 1 failure, 2 usage. */
    static int run(String[] args, InputStream in, PrintStream out, PrintStream err) {
        if (args.length == 0) {
            err.print(USAGE);
            return 2;
        }
        try {
            return switch (args[0]) {
                case "serve" -> serve(List.of(args).subList(1, args.length), out, err);
                case "passwd" -> passwd(List.of(args).subList(1, args.length), in, out, err);
                case "--help", "-h", "help" -> {
                    out.print(USAGE);
                    yield 0;
                }
                default -> {
                    err.print(USAGE);
                    yield 2;
                }
            };
        } catch (UsageException e) {
            err.println("web-login: " + e.getMessage());
            err.print(USAGE);
            return 2;
        } catch (IOException e) {
            err.println("web-login: " + e.getMessage());
            return 1;
        }
    }

    private static final class UsageException extends Exception {
        UsageException(String message) {
            super(message);
        }
    }

    private static String value(List<String> args, int i) throws UsageException {
        if (i + 1 >= args.size()) {
            throw new UsageException(args.get(i) + " needs a value");
        }
        return args.get(i + 1);
    }

    private static int number(String text, String option) throws UsageException {
        try {
            return Integer.parseInt(text);
        } catch (NumberFormatException e) {
            throw new UsageException(option + " takes a number");
        }
    }

    private static int serve(List<String> args, PrintStream out, PrintStream err) throws UsageException, IOException {
        Path socket = TwoFactorClient.DEFAULT_SOCKET;
        Path passwords = null;
        Path portFile = null;
        int port = 0;
        Set<String> admins = new LinkedHashSet<>();
        boolean secureCookie = false;
        for (int i = 0; i < args.size(); i++) {
            switch (args.get(i)) {
                case "--socket" -> socket = Path.of(value(args, i++));
                case "--passwords" -> passwords = Path.of(value(args, i++));
                case "--port-file" -> portFile = Path.of(value(args, i++));
                case "--port" -> port = number(value(args, i++), "--port");
                case "--admin" -> admins.add(value(args, i++));
                case "--secure-cookie" -> secureCookie = true;
                default -> throw new UsageException("unknown option " + args.get(i));
            }
        }
        if (passwords == null) {
            throw new UsageException("--passwords FILE is required");
        }
        if (port < 0 || port > 65535) {
            throw new UsageException("--port is 0 to 65535");
        }
        if (admins.isEmpty()) {
            admins.add("root");
        }
        WebLogin.Settings settings = new WebLogin.Settings(new Daemon(socket, Duration.ofSeconds(5)),
                PasswordFile.load(passwords), Set.copyOf(admins), secureCookie, port);
        WebLogin app = new WebLogin(settings, Clock.systemUTC(), new SecureRandom()).start();
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            app.stop();
            stopped.countDown();
        }, "web-login-stop"));
        out.println("web-login: listening on http://127.0.0.1:" + app.port() + "/ (daemon socket " + socket + ")");
        out.flush();
        if (portFile != null) {
            Path tmp = portFile.resolveSibling(portFile.getFileName() + ".tmp");
            Files.writeString(tmp, app.port() + "\n");
            Files.move(tmp, portFile, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        }
        try {
            stopped.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return 0;
    }

    private static int passwd(List<String> args, InputStream in, PrintStream out, PrintStream err)
            throws UsageException, IOException {
        List<String> positional = new ArrayList<>();
        int iterations = PasswordFile.DEFAULT_ITERATIONS;
        for (int i = 0; i < args.size(); i++) {
            if (args.get(i).equals("--iterations")) {
                iterations = number(value(args, i++), "--iterations");
            } else {
                positional.add(args.get(i));
            }
        }
        if (positional.size() != 2) {
            throw new UsageException("passwd takes FILE and USER");
        }
        if (iterations < 1_000 || iterations > 10_000_000) {
            throw new UsageException("--iterations is 1000 to 10000000");
        }
        Path file = Path.of(positional.get(0));
        String user = positional.get(1);
        if (!UserNames.isValid(user)) {
            throw new UsageException("not a valid user name: " + user);
        }
        String password = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8)).readLine();
        if (password == null || password.isEmpty()) {
            err.println("web-login: no password on standard input");
            return 1;
        }
        String line = user + ":" + PasswordFile.hash(password.toCharArray(), iterations, new SecureRandom());
        List<String> lines = new ArrayList<>();
        if (Files.exists(file)) {
            for (String existing : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                if (!existing.startsWith(user + ":")) {
                    lines.add(existing);
                }
            }
        } else {
            lines.add("# web-login demo passwords: user:" + PasswordFile.SCHEME + "$iterations$salt$hash");
        }
        lines.add(line);
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.deleteIfExists(tmp);
        Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.write(tmp, lines, StandardCharsets.UTF_8);
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        PasswordFile.load(file);
        out.println("web-login: password of " + user + " set in " + file);
        return 0;
    }
}
