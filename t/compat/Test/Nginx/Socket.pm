package Test::Nginx::Socket;

# A small work-alike of Test::Nginx::Socket (CPAN's test-nginx) for machines
# where that one is not installed.  Test files say
#
#     use Test::Nginx::Socket 'no_plan';      # or: use t::Wrapper;
#
# and run unchanged under either.  Like the real one it is a Test::Base
# subclass, so Test::Base parses the __DATA__ blocks and its exports (blocks,
# spec_string, is, like, ...) come along; wrappers subclass it with
# "use Test::Nginx::Socket -Base;".  The work is done in Test::Nginx::Util.
#
# Supported: see t/compat/README.md.

use Test::Base -Base;

use Test::Nginx::Util;

our $VERSION = '0.01-compat';

our @EXPORT = (@Test::Nginx::Util::EXPORT, qw(is_str plan));

# Test::Base's "is" diffs long strings; keep the real one's name for ours
*is_str = \&Test::Nginx::Util::is_str;

1;
