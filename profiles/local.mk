# profiles: sources, tests and data of this folder (see ../Makefile.am).
libtetri_a_SOURCES += profiles/profile.h profiles/profile.c profiles/analytic.h profiles/analytic.c \
  profiles/generate.c profiles/measured.h profiles/measured.c

# The schema travels as SQL (profiles/schema.sql, the reference) and is compiled into the generator
# as a C string made from it, so the two cannot drift.
nodist_libtetri_a_SOURCES = profiles/schema_sql.h
profiles/generate.$(OBJEXT) profiles/measured.$(OBJEXT): profiles/schema_sql.h
profiles/schema_sql.h: $(top_srcdir)/profiles/schema.sql
	$(AM_V_GEN)$(MKDIR_P) profiles && { \
	  echo '/* generated from profiles/schema.sql by profiles/local.mk: do not edit */'; \
	  echo 'static const char profile_schema_sql[] ='; \
	  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/    "/' -e 's/$$/\\n"/' $(top_srcdir)/profiles/schema.sql; \
	  echo '    ;'; } > $@-t && mv $@-t $@
CLEANFILES += profiles/schema_sql.h

# Where profile_default_path() looks (docs/profiles.md): $TETRI_PROFILE, then the installed copy,
# then this source tree's.
AM_CPPFLAGS += -DTETRI_PKGDATADIR='"$(pkgdatadir)"' -DTETRI_SOURCE_PROFILE='"$(abs_top_srcdir)/profiles/default.db"'
dist_pkgdata_DATA = profiles/default.db profiles/h200x1.db profiles/tetri-h200x8.db
EXTRA_DIST += profiles/schema.sql docs/profiles.md

if HAVE_CMOCKA
check_PROGRAMS += tests/test_profiles
TESTS += tests/test_profiles
tests_test_profiles_SOURCES = tests/test_profiles.c
tests_test_profiles_CFLAGS = $(TEST_CFLAGS)
tests_test_profiles_LDADD = $(TEST_LDADD)
endif
TESTS += tests/cli_profile.sh
EXTRA_DIST += tests/cli_profile.sh

# make fuzz (tests/fuzz/local.mk, which lists tests/fuzz/fuzz_profile.c) compiles the library's
# sources itself, so it needs the generated schema header first.
fuzz: profiles/schema_sql.h
