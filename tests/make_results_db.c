/* tests/make_results_db.c: writes the fixture sweep (tests/results_fixture.h) into a results
 * database, so the CLI tests of report and plot need no simulator. Usage: make_results_db FILE */
#include <stdio.h>

#include "tests/results_fixture.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_results_db FILE\n");
        return 2;
    }
    results_db *db;
    tetri_error err = {{0}};
    if (results_open(argv[1], &db, &err) || fixture_write_sweep(db, &err)) {
        fprintf(stderr, "make_results_db: %s\n", err.msg);
        return 1;
    }
    results_close(db);
    return 0;
}
