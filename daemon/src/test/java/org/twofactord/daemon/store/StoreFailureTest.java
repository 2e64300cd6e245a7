package org.twofactord.daemon.store;

import org.twofactord.daemon.store.legacy.MapDbStore;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.twofactord.daemon.Client;
import org.twofactord.daemon.Json;
import org.twofactord.daemon.TestDaemon;
import org.twofactord.daemon.Totp;

/** A commit that fails gives ERR unavailable, and nothing is reported done that was not stored. */
class StoreFailureTest {
    @TempDir
    Path dir;

    /** The real store with a switch that makes commit throw, as a full disk would. */
    static class FailingStore implements Store {
        final Store inner;
        final AtomicBoolean failCommits;

        FailingStore(Store inner, AtomicBoolean failCommits) {
            this.inner = inner;
            this.failCommits = failCommits;
        }

        @Override public Optional<String> meta(String key) { return inner.meta(key); }
        @Override public Optional<UserRecord> user(String name) { return inner.user(name); }
        @Override public Optional<PendingEnrollment> pending(String name) { return inner.pending(name); }
        @Override public List<String> names() { return inner.names(); }
        @Override public List<String> pendingNames() { return inner.pendingNames(); }
        @Override public boolean required(String name) { return inner.required(name); }
        @Override public List<String> requiredNames() { return inner.requiredNames(); }
        @Override public void setRequired(String name, boolean on) { inner.setRequired(name, on); }
        @Override public int userCount() { return inner.userCount(); }
        @Override public void putMeta(String key, String value) { inner.putMeta(key, value); }
        @Override public void removeMeta(String key) { inner.removeMeta(key); }
        @Override public void putUser(String name, UserRecord record) { inner.putUser(name, record); }
        @Override public void removeUser(String name) { inner.removeUser(name); }
        @Override public void putPending(String name, PendingEnrollment p) { inner.putPending(name, p); }
        @Override public void removePending(String name) { inner.removePending(name); }
        @Override public void snapshot(java.nio.file.Path dir) throws StoreException { inner.snapshot(dir); }
        @Override public void close() { inner.close(); }

        @Override
        public void commit() throws StoreException {
            if (failCommits.get()) {
                throw new StoreException("No space left on device (injected)");
            }
            inner.commit();
        }

        @Override
        public void sync(java.util.Collection<String> names) throws StoreException {
            if (failCommits.get()) {
                throw new StoreException("No space left on device (injected)");
            }
            inner.sync(names);
        }
    }

    @Test
    void failedCommitsAnswerUnavailableAndChangeNothing() throws Exception {
        AtomicBoolean fail = new AtomicBoolean();
        try (TestDaemon daemon = new TestDaemon(dir)
                .storeFactory((file, key) -> new FailingStore(MapDbStore.open(file, key), fail)).start()) {
            Client c = daemon.client();
            c.expect("POLICY ENABLE", "OK {\"mode\":\"optional\",\"enabled\":true}");
            String secret = Json.of(c.call("ENROLL alice")).get("secret").asText();
            String confirm = c.call("CONFIRM alice " + Totp.code(secret, daemon.clock, -1));
            String backup = Json.of(confirm).get("backup_codes").get(0).asText();

            fail.set(true);
            String unavailable = "ERR unavailable the store cannot be read or written";
            String fresh = Totp.code(secret, daemon.clock, 0);
            c.expect("VERIFY alice " + fresh, unavailable);
            // The store is broken for this process: its memory may hold what never reached the
            // disk, so nothing is answered from it, not even reads.
            c.expect("VERIFY alice " + backup, unavailable);
            c.expect("CHECK alice", unavailable);
            c.expect("POLICY", unavailable);
            c.expect("ENROLL bob", unavailable);
            c.expect("PING", "OK");

            // A restart continues from the last commit: nothing of the failed batch stuck.
            fail.set(false);
            c.close();
            daemon.restart();
            try (Client again = daemon.client()) {
                again.expect("POLICY", "OK {\"mode\":\"optional\",\"enabled\":true}");
                again.expect("VERIFY alice " + fresh, "OK {\"method\":\"totp\"}");
                again.expect("VERIFY alice " + backup, "OK {\"method\":\"backup\",\"backup_codes_left\":9}");
                assertEquals(0, Json.of(again.call("USER alice")).get("failures").asInt());
                assertTrue(again.call("USER bob").contains("\"pending\":false"));
            }
        }
    }
}
