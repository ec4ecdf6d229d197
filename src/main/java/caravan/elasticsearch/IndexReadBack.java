package caravan.elasticsearch;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;

import java.io.IOException;

/**
 * Reads every document of an index back over REST (a scroll sorted by {@code _doc}, which Elasticsearch 7/8
 * and OpenSearch 2 all serve the same way) and digests it with {@link ContentDigest}, parsing each page with
 * Jackson's streaming parser so that every number is taken from its text, never through a double.
 */
final class IndexReadBack {
    private static final JsonFactory JSON = new JsonFactory();
    private static final String KEEP_ALIVE = "5m";

    private IndexReadBack() {
    }

    /** The digest of the index's current content (the caller refreshes first). */
    static ContentDigest digest(SearchCluster es, String index, int pageSize) throws IOException, InterruptedException {
        ContentDigest d = new ContentDigest();
        String what = "reading index " + index + " back";
        String page = es.text("POST", SearchCluster.seg(index) + "/_search?scroll=" + KEEP_ALIVE,
                "{\"size\":" + pageSize + ",\"sort\":[\"_doc\"]}", what);
        String scrollId = null;
        try {
            while (true) {
                Page p = read(page, d);
                scrollId = p.scrollId() == null ? scrollId : p.scrollId();
                if (p.hits() == 0 || scrollId == null) {
                    return d;
                }
                page = es.text("POST", "_search/scroll", "{\"scroll\":\"" + KEEP_ALIVE + "\",\"scroll_id\":\""
                        + scrollId + "\"}", what);
            }
        } finally {
            if (scrollId != null) {
                try {
                    es.call("DELETE", "_search/scroll", "{\"scroll_id\":\"" + scrollId + "\"}");
                } catch (IOException | RuntimeException ignored) {
                    // the scroll expires after KEEP_ALIVE anyway
                }
            }
        }
    }

    private record Page(String scrollId, int hits) {
    }

    /** Adds the page's hits ({@code hits.hits[]}) to the digest; returns its scroll id and hit count. */
    private static Page read(String body, ContentDigest d) throws IOException {
        String scrollId = null;
        int hits = 0;
        try (JsonParser p = JSON.createParser(body)) {
            expect(p.nextToken(), JsonToken.START_OBJECT);
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                p.nextToken();
                if (field.equals("_scroll_id")) {
                    scrollId = p.getText();
                } else if (field.equals("hits") && p.currentToken() == JsonToken.START_OBJECT) {
                    while (p.nextToken() == JsonToken.FIELD_NAME) {
                        String inner = p.currentName();
                        p.nextToken();
                        if (inner.equals("hits") && p.currentToken() == JsonToken.START_ARRAY) {
                            while (p.nextToken() == JsonToken.START_OBJECT) {
                                d.addHit(p);
                                hits++;
                            }
                        } else {
                            p.skipChildren();
                        }
                    }
                } else {
                    p.skipChildren();
                }
            }
        }
        return new Page(scrollId, hits);
    }

    private static void expect(JsonToken got, JsonToken want) throws IOException {
        if (got != want) {
            throw new IOException("unexpected search response (" + got + ")");
        }
    }
}
