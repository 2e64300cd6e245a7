package org.twofactord.daemon.systemd;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.newsclub.net.unix.AFUNIXDatagramChannel;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tells systemd how the daemon is doing ({@code sd_notify(3)}): one datagram per message to the
 * Unix socket named by {@code NOTIFY_SOCKET} (a path, or {@code @name} in the abstract
 * namespace). Without {@code NOTIFY_SOCKET} every method does nothing, so the daemon calls them
 * unconditionally. A message that cannot be sent is logged, never thrown: the daemon serves
 * whether or not systemd hears it (and systemd's start timeout catches a READY=1 that was lost).
 */
public final class SystemdNotifier implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(SystemdNotifier.class);

    private final String target;
    private final long watchdogIntervalMicros;
    private AFUNIXSocketAddress address;
    private AFUNIXDatagramChannel channel;
    private ScheduledExecutorService watchdog;
    private boolean unhealthyLogged;
    private boolean sendFailureLogged;

    private SystemdNotifier(String target, long watchdogIntervalMicros) {
        this.target = target;
        this.watchdogIntervalMicros = watchdogIntervalMicros;
    }

    /** A notifier that never sends anything (not run by systemd). */
    public static SystemdNotifier none() {
        return new SystemdNotifier(null, 0);
    }

    /**
     * From {@code NOTIFY_SOCKET}, {@code WATCHDOG_USEC} and {@code WATCHDOG_PID} as systemd sets
     * them for this process ({@code pid}). A watchdog meant for another process is ignored.
     */
    public static SystemdNotifier fromEnvironment(Map<String, String> env, long pid) {
        String target = env.get("NOTIFY_SOCKET");
        if (target != null && !target.startsWith("/") && !target.startsWith("@")) {
            log.warn("NOTIFY_SOCKET '{}' is neither a path nor an abstract name; not notifying systemd", target);
            target = null;
        }
        if (target != null && target.length() < 2) {
            target = null;
        }
        return new SystemdNotifier(target, watchdogInterval(env, pid));
    }

    /** Half of {@code WATCHDOG_USEC} (as {@code sd_watchdog_enabled(3)} advises), or 0 for none. */
    static long watchdogInterval(Map<String, String> env, long pid) {
        String usec = env.get("WATCHDOG_USEC");
        if (usec == null) {
            return 0;
        }
        String watchdogPid = env.get("WATCHDOG_PID");
        try {
            if (watchdogPid != null && Long.parseLong(watchdogPid.strip()) != pid) {
                return 0;
            }
            long value = Long.parseLong(usec.strip());
            return value > 0 ? Math.max(1, value / 2) : 0;
        } catch (NumberFormatException e) {
            log.warn("WATCHDOG_USEC '{}' or WATCHDOG_PID '{}' is not a number; no watchdog pings", usec, watchdogPid);
            return 0;
        }
    }

    /** Whether systemd is listening at all. */
    public boolean enabled() {
        return target != null;
    }

    /** The watchdog ping interval in microseconds, or 0 if systemd set no watchdog. */
    public long watchdogIntervalMicros() {
        return target == null ? 0 : watchdogIntervalMicros;
    }

    /** {@code STATUS=}: one line shown by {@code systemctl status}. */
    public void status(String status) {
        send("STATUS=" + oneLine(status));
    }

    /** {@code READY=1}: the store is open and the socket is being accepted. */
    public void ready(String status) {
        send("READY=1\nSTATUS=" + oneLine(status));
    }

    /** {@code STOPPING=1}: shutting down; also stops the watchdog pings. */
    public void stopping(String status) {
        stopWatchdog();
        send("STOPPING=1\nSTATUS=" + oneLine(status));
    }

    /**
     * Sends {@code WATCHDOG=1} every {@link #watchdogIntervalMicros()} while {@code healthy} holds;
     * when it stops holding, the pings stop and systemd restarts the daemon after
     * {@code WatchdogSec}. Does nothing when systemd set no watchdog.
     */
    public synchronized void startWatchdog(BooleanSupplier healthy) {
        long interval = watchdogIntervalMicros();
        if (interval == 0 || watchdog != null) {
            return;
        }
        watchdog = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "twofactord-watchdog");
            t.setDaemon(true);
            return t;
        });
        watchdog.scheduleAtFixedRate(() -> ping(healthy), 0, interval, TimeUnit.MICROSECONDS);
    }

    private void ping(BooleanSupplier healthy) {
        if (healthy.getAsBoolean()) {
            synchronized (this) {
                if (watchdog != null) { // not after stopWatchdog
                    send("WATCHDOG=1");
                }
            }
        } else if (!unhealthyLogged) {
            unhealthyLogged = true;
            log.error("no longer accepting connections; not pinging the systemd watchdog, so systemd restarts the daemon");
        }
    }

    /**
     * No interrupt (shutdownNow): a ping thread interrupted inside the channel's send closes the
     * channel, and the STOPPING=1 that follows would be lost.
     */
    private synchronized void stopWatchdog() {
        if (watchdog != null) {
            watchdog.shutdown();
            watchdog = null;
        }
    }

    private static String oneLine(String text) {
        return text.replace('\n', ' ');
    }

    private synchronized void send(String message) {
        if (target == null) {
            return;
        }
        try {
            if (channel != null && !channel.isOpen()) {
                channel = null; // closed under us: open a new one
            }
            if (channel == null) {
                address = target.startsWith("@") ? AFUNIXSocketAddress.inAbstractNamespace(target.substring(1))
                        : AFUNIXSocketAddress.of(Path.of(target));
                channel = AFUNIXDatagramChannel.open();
            }
            channel.send(ByteBuffer.wrap(message.getBytes(StandardCharsets.UTF_8)), address);
        } catch (IOException | RuntimeException e) {
            // Once: a watchdog ping that fails would otherwise log twice a WatchdogSec.
            if (!sendFailureLogged) {
                sendFailureLogged = true;
                log.error("cannot notify systemd at {}: {}", target, e.toString());
            }
        }
    }

    @Override
    public synchronized void close() {
        stopWatchdog();
        if (channel != null) {
            try {
                channel.close();
            } catch (IOException ignored) {
                // nothing left to tell
            }
            channel = null;
        }
    }
}
