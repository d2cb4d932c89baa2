/*
 * harness_main.c - the main() of every suite. tests/meson.build compiles it into each suite
 * with SUITE_NAME (the exercise folder) and SUITE_DATA (the path of its tests.json).
 */
#include "harness.h"

int main(int argc, char **argv)
{
    return harness_main(SUITE_NAME, SUITE_DATA, argc, argv);
}
