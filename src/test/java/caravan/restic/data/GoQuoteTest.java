package caravan.restic.data;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** Node names as restic stores them: the inside of Go's strconv.Quote. */
class GoQuoteTest {
    @Test
    void undoesGoQuoting() {
        assertThat(GoQuote.unquote("snapshot.db")).isEqualTo("snapshot.db");
        assertThat(GoQuote.unquote("h\u00e9llo \\\"q\\\".txt")).isEqualTo("h\u00e9llo \"q\".txt");
        assertThat(GoQuote.unquote("a\\\\b")).isEqualTo("a\\b");
        assertThat(GoQuote.unquote("tab\\there\\n")).isEqualTo("tab\there\n");
        // a name that is not valid UTF-8 keeps its bytes (\xff), a control character its code point
        assertThat(GoQuote.unquote("bad\\xc3\\xa9")).isEqualTo("bad\u00e9");
        assertThat(GoQuote.unquote("bell\\a\\u200b")).isEqualTo("bell\u0007\u200b");
    }
}
