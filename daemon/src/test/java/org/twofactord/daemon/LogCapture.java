package org.twofactord.daemon;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.util.List;
import org.slf4j.LoggerFactory;

/**
 * What a logger (and the loggers below it) logs during a test, from {@link #start} until
 * {@link #close}, which detaches the capture and puts the logger's level back.
 */
public final class LogCapture implements AutoCloseable {
    private final Logger logger;
    private final Level previous;
    private final ListAppender<ILoggingEvent> appender = new ListAppender<>();

    private LogCapture(Logger logger, Level level) {
        this.logger = logger;
        this.previous = logger.getLevel();
        logger.setLevel(level);
        appender.start();
        logger.addAppender(appender);
    }

    /** Captures {@code name}'s logger ({@link org.slf4j.Logger#ROOT_LOGGER_NAME}: every logger) at {@code level}. */
    public static LogCapture start(String name, Level level) {
        return new LogCapture((Logger) LoggerFactory.getLogger(name), level);
    }

    /** Captures the logger of {@code type} at {@code level}. */
    public static LogCapture start(Class<?> type, Level level) {
        return start(type.getName(), level);
    }

    /** The events captured so far, oldest first (a live list: it grows as the code logs). */
    public List<ILoggingEvent> events() {
        return appender.list;
    }

    @Override
    public void close() {
        logger.detachAppender(appender);
        logger.setLevel(previous);
    }
}
