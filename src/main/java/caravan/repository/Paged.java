package caravan.repository;

/**
 * A backend whose listings come in pages (s3, b2, gcs, azure, swift). The page size is 1000 (each service's
 * maximum or default); the conformance tests set a small one so that a listing certainly spans several
 * pages, whatever page size an emulator would pick on its own. Not a setting: nothing outside the tests calls it.
 */
interface Paged {
    void pageSize(int n);
}
