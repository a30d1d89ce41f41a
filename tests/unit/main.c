/* main.c - runs every unit test suite; exits 1 if anything failed. */
#include <CUnit/Basic.h>
#include <string.h>

#include "log.h"
#include "tests.h"

int main(int argc, char **argv)
{
	int failed;

	if (argc == 2 && strcmp(argv[1], HOLD_ARG) == 0)
		return hold_until_eof();
	/* The code under test logs its failures; keep the report readable. */
	log_setup(false, LOG_CRIT);
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	add_size_suite();
	add_node_suite();
	add_config_suite();
	add_region_suite();
	add_ctl_parse_suite();
	add_ctl_suite();
	add_fault_suite();
	add_table_suite();
	add_instance_suite();
	add_flusher_suite();
	add_coherence_suite();
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_failures() != 0 ||
		 CU_get_number_of_suites_failed() != 0 || CU_get_error();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
