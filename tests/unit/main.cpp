#define BOOST_TEST_MODULE vitrace unit tests
#include <boost/test/unit_test.hpp>
