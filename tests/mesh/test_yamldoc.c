/* Tests for mesh/yamldoc.c: positions, scalar typing, multi-document streams, duplicate keys,
 * libyaml's syntax errors with their positions, aliases and their limit. */
#include "mesh/yamldoc.h"

#include <errno.h>
#include <stdlib.h>

#include "support/test.h"

static struct yamldoc *parse_ok(const char *text) {
  struct diag_list d;
  diag_list_init(&d);
  struct yamldoc *doc = NULL;
  int rc = yamldoc_parse(text, strlen(text), "t.yaml", &doc, &d);
  if (rc != 0 && d.len > 0) {
    char buf[512];
    diag_format(&d.items[0], buf, sizeof buf);
    test_fail(__FILE__, __LINE__, "unexpected error: %s", buf);
  }
  diag_list_free(&d);
  return doc;
}

static void test_positions(void) {
  struct yamldoc *doc = parse_ok(
      "apiVersion: v1\n"
      "metadata:\n"
      "  name: reviews\n"
      "  labels: {app: reviews}\n"
      "items:\n"
      "- a\n"
      "-   b\n");
  ASSERT(doc != NULL);
  ASSERT_INT_EQ(doc->len, 1);
  const struct yamldoc_node *root = doc->docs[0];
  EXPECT_INT_EQ(root->type, YAMLDOC_MAPPING);
  EXPECT_INT_EQ(root->line, 1);
  EXPECT_INT_EQ(root->col, 1);
  const struct yamldoc_pair *meta = yamldoc_get_pair(root, "metadata");
  ASSERT(meta != NULL);
  EXPECT_INT_EQ(meta->key->line, 2);
  EXPECT_INT_EQ(meta->value->line, 3);
  EXPECT_INT_EQ(meta->value->col, 3);
  const struct yamldoc_node *name = yamldoc_get(meta->value, "name");
  ASSERT(name != NULL);
  EXPECT_STR_EQ(name->str, "reviews");
  EXPECT_INT_EQ(name->line, 3);
  EXPECT_INT_EQ(name->col, 9);
  const struct yamldoc_node *labels = yamldoc_get(meta->value, "labels");
  ASSERT(labels != NULL);
  EXPECT_INT_EQ(labels->type, YAMLDOC_MAPPING);
  EXPECT_INT_EQ(labels->col, 11);
  const struct yamldoc_node *items = yamldoc_get(root, "items");
  ASSERT(items != NULL && items->type == YAMLDOC_SEQUENCE);
  ASSERT_INT_EQ(items->len, 2);
  EXPECT_INT_EQ(items->items[1]->line, 7);
  EXPECT_INT_EQ(items->items[1]->col, 5);
  EXPECT(yamldoc_get(items, "x") == NULL);
  EXPECT(yamldoc_get(root, "missing") == NULL);
  yamldoc_free(doc);
}

static void test_multi_document(void) {
  struct yamldoc *doc = parse_ok("a: 1\n---\nb: 2\n---\n# only a comment\n---\nc: 3\n---\n");
  ASSERT(doc != NULL);
  /* the trailing '---' opens a fifth, empty document */
  ASSERT_INT_EQ(doc->len, 5);
  EXPECT(yamldoc_is_null(doc->docs[4]));
  EXPECT(yamldoc_get(doc->docs[0], "a") != NULL);
  EXPECT(yamldoc_get(doc->docs[1], "b") != NULL);
  EXPECT(yamldoc_is_null(doc->docs[2]));
  EXPECT(yamldoc_get(doc->docs[3], "c") != NULL);
  EXPECT_INT_EQ(doc->docs[3]->line, 7);
  yamldoc_free(doc);
  doc = parse_ok("");
  ASSERT(doc != NULL);
  EXPECT_INT_EQ(doc->len, 0);
  yamldoc_free(doc);
}

static void test_scalar_kinds(void) {
  static const struct {
    const char *yaml;
    enum yamldoc_scalar_kind kind;
  } cases[] = {
      {"v: 80", YAMLDOC_INT},
      {"v: \"80\"", YAMLDOC_STRING},
      {"v: '80'", YAMLDOC_STRING},
      {"v: -3", YAMLDOC_INT},
      {"v: 0x1F", YAMLDOC_INT},
      {"v: 1.5", YAMLDOC_FLOAT},
      {"v: 100.0", YAMLDOC_FLOAT},
      {"v: 1e3", YAMLDOC_FLOAT},
      {"v: .5", YAMLDOC_FLOAT},
      {"v: .inf", YAMLDOC_FLOAT},
      {"v: true", YAMLDOC_BOOL},
      {"v: False", YAMLDOC_BOOL},
      {"v: yes", YAMLDOC_BOOL},
      {"v: on", YAMLDOC_BOOL},
      {"v: ~", YAMLDOC_NULL},
      {"v: null", YAMLDOC_NULL},
      {"v:", YAMLDOC_NULL},
      {"v: v1", YAMLDOC_STRING},
      {"v: 1s", YAMLDOC_STRING},
      {"v: 1.2.3", YAMLDOC_STRING},
      {"v: \"true\"", YAMLDOC_STRING},
      {"v: |\n  text\n", YAMLDOC_STRING},
      {"v: 0.5s", YAMLDOC_STRING},
      {"v: '*'", YAMLDOC_STRING},
      {"v: e3", YAMLDOC_STRING},
      {"v: 1_000", YAMLDOC_STRING},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct yamldoc *doc = parse_ok(cases[i].yaml);
    ASSERT(doc != NULL && doc->len == 1);
    const struct yamldoc_node *v = yamldoc_get(doc->docs[0], "v");
    ASSERT(v != NULL);
    if (yamldoc_scalar_kind(v) != cases[i].kind)
      test_fail(__FILE__, __LINE__, "case %zu (%s): kind %d, want %d", i, cases[i].yaml, (int)yamldoc_scalar_kind(v),
                (int)cases[i].kind);
    yamldoc_free(doc);
  }
}

static void test_quoted_flag(void) {
  struct yamldoc *doc = parse_ok("a: \"x\"\nb: x\nc: >\n  folded\n");
  ASSERT(doc != NULL);
  EXPECT(yamldoc_get(doc->docs[0], "a")->quoted);
  EXPECT(!yamldoc_get(doc->docs[0], "b")->quoted);
  EXPECT(yamldoc_get(doc->docs[0], "c")->quoted);
  EXPECT_STR_EQ(yamldoc_describe(yamldoc_get(doc->docs[0], "b")), "string");
  EXPECT_STR_EQ(yamldoc_describe(doc->docs[0]), "mapping");
  yamldoc_free(doc);
}

/* Inputs that must fail, with the position (libyaml's for syntax errors) and a message part. */
static const struct {
  const char *name;
  const char *yaml;
  int line, col;
  const char *message;
} FAILURES[] = {
    {"duplicate key", "metadata:\n  name: a\n  name: b\n", 3, 3,
     "duplicate key 'name' (first at line 2, again at line 3)"},
    {"duplicate top key", "spec: {}\nkind: X\nspec: {}\n", 3, 1, "duplicate key 'spec'"},
    {"duplicate in flow", "a: {x: 1, x: 2}\n", 1, 11, "duplicate key 'x'"},
    {"tab indentation", "spec:\n\thosts: [a]\n", 2, 1, "indentation must use spaces, not tabs"},
    {"unclosed quote", "a: \"abc\nb: c\n", 3, 1, "found unexpected end of stream"},
    {"unclosed flow", "a: [1, 2\n", 2, 1, "YAML syntax error"},
    {"bad indentation", "a:\n  b: 1\n c: 2\n", 3, 2, "YAML syntax error"},
    {"mapping in scalar", "a: b: c\n", 1, 5, "mapping values are not allowed"},
    {"non-scalar key", "? [a, b]\n: c\n", 1, 3, "mapping keys must be plain strings"},
    {"undefined alias", "a: *nope\n", 1, 4, "YAML syntax error"},
};

static void test_failures(void) {
  for (size_t i = 0; i < sizeof FAILURES / sizeof FAILURES[0]; i++) {
    struct diag_list d;
    diag_list_init(&d);
    struct yamldoc *doc = (struct yamldoc *)1;
    int rc = yamldoc_parse(FAILURES[i].yaml, strlen(FAILURES[i].yaml), "bad.yaml", &doc, &d);
    if (rc != -EINVAL || doc != NULL || d.len == 0) {
      test_fail(__FILE__, __LINE__, "%s: rc %d, %zu diagnostics", FAILURES[i].name, rc, d.len);
    } else {
      const struct diag *e = &d.items[0];
      char buf[512];
      diag_format(e, buf, sizeof buf);
      if (e->severity != DIAG_ERROR || e->line != FAILURES[i].line || e->col != FAILURES[i].col ||
          !strstr(e->message, FAILURES[i].message))
        test_fail(__FILE__, __LINE__, "%s: got \"%s\", want %d:%d and \"%s\"", FAILURES[i].name, buf, FAILURES[i].line,
                  FAILURES[i].col, FAILURES[i].message);
      EXPECT_STR_EQ(e->file, "bad.yaml");
    }
    diag_list_free(&d);
  }
}

static void test_several_duplicates_reported(void) {
  const char *yaml = "a: 1\na: 2\nb:\n  c: 1\n  c: 2\n";
  struct diag_list d;
  diag_list_init(&d);
  struct yamldoc *doc = NULL;
  EXPECT_INT_EQ(yamldoc_parse(yaml, strlen(yaml), NULL, &doc, &d), -EINVAL);
  EXPECT_INT_EQ(diag_count(&d, DIAG_ERROR), 2);
  EXPECT_STR_EQ(d.items[0].file, "<input>");
  diag_list_free(&d);
}

static void test_aliases(void) {
  struct yamldoc *doc = parse_ok("base: &b {app: reviews}\ncopy: *b\n");
  ASSERT(doc != NULL);
  const struct yamldoc_node *copy = yamldoc_get(doc->docs[0], "copy");
  ASSERT(copy != NULL && copy->type == YAMLDOC_MAPPING);
  EXPECT_STR_EQ(yamldoc_get(copy, "app")->str, "reviews");
  yamldoc_free(doc);
}

static void test_alias_bomb_refused(void) {
  const char *yaml =
      "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
      "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
      "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
      "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
      "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
      "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
      "g: [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n";
  struct diag_list d;
  diag_list_init(&d);
  struct yamldoc *doc = NULL;
  EXPECT_INT_EQ(yamldoc_parse(yaml, strlen(yaml), "bomb.yaml", &doc, &d), -EINVAL);
  EXPECT(doc == NULL);
  ASSERT(d.len >= 1);
  EXPECT_STR_CONTAINS(d.items[0].message, "too large");
  diag_list_free(&d);
}

static void test_plain_kind(void) {
  EXPECT_INT_EQ(yamldoc_plain_kind("9080", 4), YAMLDOC_INT);
  EXPECT_INT_EQ(yamldoc_plain_kind("reviews", 7), YAMLDOC_STRING);
  EXPECT_INT_EQ(yamldoc_plain_kind("", 0), YAMLDOC_NULL);
  EXPECT_INT_EQ(yamldoc_plain_kind("N", 1), YAMLDOC_BOOL);
  EXPECT_INT_EQ(yamldoc_plain_kind("+1.5e-3", 7), YAMLDOC_FLOAT);
  EXPECT_INT_EQ(yamldoc_plain_kind("1.", 2), YAMLDOC_FLOAT);
  EXPECT_INT_EQ(yamldoc_plain_kind("-", 1), YAMLDOC_STRING);
}

static void test_diag_format(void) {
  struct diag_list d;
  diag_list_init(&d);
  EXPECT_INT_EQ(diag_add(&d, DIAG_ERROR, "f.yaml", 3, 7, "spec.host", "missing %s", "x"), 0);
  EXPECT_INT_EQ(diag_add(&d, DIAG_WARNING, "f.yaml", 0, 0, "", "whole file"), 0);
  char buf[256];
  diag_format(&d.items[0], buf, sizeof buf);
  EXPECT_STR_EQ(buf, "f.yaml:3:7: error: spec.host: missing x");
  diag_format(&d.items[1], buf, sizeof buf);
  EXPECT_STR_EQ(buf, "f.yaml: warning: whole file");
  struct diag_list copy;
  diag_list_init(&copy);
  EXPECT_INT_EQ(diag_list_append(&copy, &d), 0);
  EXPECT_INT_EQ(copy.len, 2);
  EXPECT_INT_EQ(diag_count(&copy, DIAG_WARNING), 1);
  diag_list_free(&copy);
  diag_list_free(&d);
  diag_list_free(NULL);
  yamldoc_free(NULL);
}

TEST_CASES(TEST(test_positions), TEST(test_multi_document), TEST(test_scalar_kinds), TEST(test_quoted_flag),
           TEST(test_failures), TEST(test_several_duplicates_reported), TEST(test_aliases),
           TEST(test_alias_bomb_refused), TEST(test_plain_kind), TEST(test_diag_format))
