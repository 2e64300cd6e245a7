package org.twofactord.daemon.store;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;

/** A store in memory, for fuzzing the dispatcher at full speed; commit does nothing. */
public final class MemoryStore implements Store {
    private final ConcurrentHashMap<String, String> meta = new ConcurrentHashMap<>();
    private final ConcurrentSkipListMap<String, byte[]> users = new ConcurrentSkipListMap<>();
    private final ConcurrentSkipListMap<String, byte[]> pending = new ConcurrentSkipListMap<>();

    @Override public Optional<String> meta(String key) { return Optional.ofNullable(meta.get(key)); }
    @Override public Optional<UserRecord> user(String name) { return Optional.ofNullable(users.get(name)).map(UserRecord::decode); }
    @Override public Optional<PendingEnrollment> pending(String name) {
        return Optional.ofNullable(pending.get(name)).map(PendingEnrollment::decode);
    }

    @Override
    public List<String> names() {
        TreeSet<String> all = new TreeSet<>(users.keySet());
        all.addAll(pending.keySet());
        return new ArrayList<>(all);
    }

    @Override public List<String> pendingNames() { return new ArrayList<>(pending.keySet()); }
    private final java.util.concurrent.ConcurrentSkipListSet<String> required = new java.util.concurrent.ConcurrentSkipListSet<>();
    @Override public boolean required(String name) { return required.contains(name); }
    @Override public List<String> requiredNames() { return new ArrayList<>(required); }
    @Override public void setRequired(String name, boolean on) { if (on) { required.add(name); } else { required.remove(name); } }

    @Override public int userCount() { return users.size(); }
    @Override public void putMeta(String key, String value) { meta.put(key, value); }
    @Override public void removeMeta(String key) { meta.remove(key); }
    @Override public void putUser(String name, UserRecord record) { users.put(name, record.encode()); }
    @Override public void removeUser(String name) { users.remove(name); }
    @Override public void putPending(String name, PendingEnrollment p) { pending.put(name, p.encode()); }
    @Override public void removePending(String name) { pending.remove(name); }
    @Override public void commit() { }
    @Override public void snapshot(Path dir) throws StoreException { throw new StoreException("not on disk"); }
    @Override public void close() { }
}
