/*
 * test_node.c - inode numbers (node.h), the view vocabulary (view.h) and
 * stable arrays (stable.h).
 */
#include <CUnit/CUnit.h>
#include <string.h>

#include "node.h"
#include "stable.h"
#include "tests.h"
#include "view.h"

/* ---- node numbers ---- */

static void test_every_kind_of_every_slot_decodes_to_itself(void)
{
	static const size_t slots[] = { 0, 1, 2, 255, 256, 1000000 };

	for (size_t i = 0; i < sizeof(slots) / sizeof(slots[0]); i++)
		for (int k = NODE_RO; k < NODE_KINDS; k++) {
			uint64_t ino = node_ino(slots[i], (enum node_kind)k);
			enum node_kind kind;
			size_t slot = 0;

			CHECK(node_decode(ino, &slot, &kind), "%llu does not decode",
			      (unsigned long long)ino);
			CHECK(slot == slots[i] && kind == (enum node_kind)k,
			      "%llu decodes to slot %zu kind %d, not %zu %d",
			      (unsigned long long)ino, slot, kind, slots[i], k);
		}
}

static void test_numbers_of_different_nodes_differ(void)
{
	CU_ASSERT_NOT_EQUAL(node_ino(0, NODE_CTL_FILE + CTL_FILES - 1), node_ino(1, NODE_RO));
	CU_ASSERT_NOT_EQUAL(node_ino(0, NODE_RW), node_ino(0, NODE_COW));
	for (size_t t = 0; t < NODE_TOPS; t++)
		CU_ASSERT(node_tops[t].ino < node_ino(0, NODE_RO));
}

static void test_root_and_top_folders_are_top_nodes(void)
{
	enum node_kind kind;
	size_t slot;

	CU_ASSERT(node_decode(NODE_ROOT_INO, &slot, &kind) && kind == NODE_TOP);
	for (size_t t = 0; t < NODE_TOPS; t++)
		CU_ASSERT(node_decode(node_tops[t].ino, &slot, &kind) && kind == NODE_TOP);
}

static void test_numbers_nothing_has_do_not_decode(void)
{
	enum node_kind kind;
	size_t slot;

	CU_ASSERT_FALSE(node_decode(0, &slot, &kind));
	CU_ASSERT_FALSE(node_decode(NODE_CTL_DIR_INO + 1, &slot, &kind));
	CU_ASSERT_FALSE(node_decode((1u << NODE_SHIFT) - 1, &slot, &kind));
	CU_ASSERT_FALSE(node_decode(node_ino(3, NODE_RO) + NODE_KINDS, &slot, &kind));
}

static void test_top_folders_by_name_and_number(void)
{
	static const char *const names[] = { "ro", "rw", "cow", "ctl" };

	for (size_t i = 0; i < NODE_TOPS; i++) {
		const struct node_top *t = node_top_by_name(names[i]);

		CU_ASSERT_PTR_NOT_NULL_FATAL(t);
		CU_ASSERT_PTR_EQUAL(node_top_by_ino(t->ino), t);
		CU_ASSERT_EQUAL(t->view, i < 3 ? view_at((int)i) : 0u);
	}
	CU_ASSERT_PTR_NULL(node_top_by_name("RO"));
	CU_ASSERT_PTR_NULL(node_top_by_ino(NODE_ROOT_INO));
}

static void test_kinds_and_views_map_both_ways(void)
{
	for (int i = 0; i < VIEW_COUNT; i++) {
		enum node_kind k = node_of_view(view_at(i));

		CU_ASSERT(node_is_view(k));
		CU_ASSERT_EQUAL(node_view(k), view_at(i));
	}
	CU_ASSERT_EQUAL(node_of_view(0), NODE_CTL_DIR);
	CU_ASSERT(node_is_dir(NODE_CTL_DIR) && node_is_dir(NODE_TOP));
	for (int f = 0; f < CTL_FILES; f++) {
		enum node_kind k = node_of_ctl_file((enum ctl_file)f);

		CU_ASSERT(node_is_ctl_file(k) && !node_is_view(k) && !node_is_dir(k));
		CU_ASSERT_EQUAL(node_ctl_file(k), (enum ctl_file)f);
	}
}

/* SPEC "Views": ro masks out every write bit, cow adds the owner's. */
static void test_view_permissions_follow_the_file(void)
{
	CU_ASSERT_EQUAL(node_view_perm(NODE_RO, false, 0100664), 0444);
	CU_ASSERT_EQUAL(node_view_perm(NODE_RW, false, 0100664), 0664);
	CU_ASSERT_EQUAL(node_view_perm(NODE_COW, false, 0100444), 0644);
	CU_ASSERT_EQUAL(node_view_perm(NODE_RW, false, 04755), 0755);
}

static void test_anonymous_views_belong_to_the_mounting_user(void)
{
	CU_ASSERT_EQUAL(node_view_perm(NODE_RO, true, 0777), 0400);
	CU_ASSERT_EQUAL(node_view_perm(NODE_RW, true, 0), 0600);
	CU_ASSERT_EQUAL(node_view_perm(NODE_COW, true, 0), 0600);
}

/* ---- views ---- */

static void test_view_names_both_ways_any_case(void)
{
	CU_ASSERT_EQUAL(view_by_name("ro", 2), VIEW_RO);
	CU_ASSERT_EQUAL(view_by_name("RW", 2), VIEW_RW);
	CU_ASSERT_EQUAL(view_by_name("Cow", 3), VIEW_COW);
	CU_ASSERT_EQUAL(view_by_name("cow ", 3), VIEW_COW);	/* LEN bytes only */
	CU_ASSERT_EQUAL(view_by_name("co", 2), 0u);
	CU_ASSERT_EQUAL(view_by_name("cows", 4), 0u);
	for (int i = 0; i < VIEW_COUNT; i++) {
		CU_ASSERT_EQUAL(view_index(view_at(i)), i);
		CU_ASSERT_EQUAL(view_by_name(view_name(view_at(i)),
					     strlen(view_name(view_at(i)))), view_at(i));
	}
}

static void test_view_lists(void)
{
	char buf[16];

	view_list(VIEW_ALL, ' ', buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "ro rw cow");
	view_list(VIEW_RO | VIEW_COW, ',', buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "ro,cow");
	view_list(VIEW_RW, ' ', buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "rw");
	view_list(0, ' ', buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, "");
	view_list(VIEW_ALL, ' ', buf, 5);
	CU_ASSERT_STRING_EQUAL(buf, "ro r");
}

/* ---- stable arrays ---- */

static void test_stable_elements_never_move_and_start_zeroed(void)
{
	static struct stable_array a;
	uint64_t *first, *far;

	stable_init(&a, sizeof(uint64_t));
	CU_ASSERT_PTR_NULL(stable_peek(&a, 0));
	first = stable_at(&a, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(first);
	CU_ASSERT_EQUAL(*first, 0u);
	*first = 42;
	far = stable_at(&a, 10 * STABLE_CHUNK_ELEMS + 3);
	CU_ASSERT_PTR_NOT_NULL_FATAL(far);
	CU_ASSERT_EQUAL(*far, 0u);
	CU_ASSERT_PTR_EQUAL(stable_at(&a, 0), first);
	CU_ASSERT_EQUAL(*(uint64_t *)stable_peek(&a, 0), 42u);
	CU_ASSERT_PTR_EQUAL(stable_peek(&a, 1), first + 1);
	CU_ASSERT_PTR_NULL(stable_peek(&a, 5 * STABLE_CHUNK_ELEMS));
	CU_ASSERT_PTR_NULL(stable_at(&a, (size_t)STABLE_CHUNKS * STABLE_CHUNK_ELEMS));
	stable_free(&a);
}

void add_node_suite(void)
{
	CU_pSuite s = CU_add_suite("node", NULL, NULL);

	CU_ADD_TEST(s, test_every_kind_of_every_slot_decodes_to_itself);
	CU_ADD_TEST(s, test_numbers_of_different_nodes_differ);
	CU_ADD_TEST(s, test_root_and_top_folders_are_top_nodes);
	CU_ADD_TEST(s, test_numbers_nothing_has_do_not_decode);
	CU_ADD_TEST(s, test_top_folders_by_name_and_number);
	CU_ADD_TEST(s, test_kinds_and_views_map_both_ways);
	CU_ADD_TEST(s, test_view_permissions_follow_the_file);
	CU_ADD_TEST(s, test_anonymous_views_belong_to_the_mounting_user);
	CU_ADD_TEST(s, test_view_names_both_ways_any_case);
	CU_ADD_TEST(s, test_view_lists);
	CU_ADD_TEST(s, test_stable_elements_never_move_and_start_zeroed);
}
