package org.twofactord.daemon.config;

/** The configuration is not usable; the message names the file, the line and the key. */
public class ConfigException extends Exception {
    public ConfigException(String message) {
        super(message);
    }
}
