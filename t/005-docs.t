# The reference in docs/ matches the code: every directive of the C sources
# is documented once with the contexts its flags allow, every embedded
# variable is in an Embedded Variables section, nothing is documented that
# the code does not have, and the README and docs/ cite no missing file.
# The checker itself (t/lib/ApiLed/Docs.pm) is first run on a made-up
# tree with known mistakes, so that this file can fail.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use File::Temp qw(tempdir);
use File::Path qw(make_path);
use ApiLed::Docs;

my $top = "$FindBin::Bin/..";

sub write_file {
    my ($path, $text) = @_;
    open my $fh, '>', $path or die "$path: $!";
    print $fh $text;
    close $fh;
}

# --- the checker finds each kind of mistake in a made-up tree -------------

{
    my $dir = tempdir(CLEANUP => 1);
    make_path("$dir/ngx_api_led_module/deep/er", "$dir/docs");

    write_file("$dir/ngx_api_led_module/deep/er/ngx_api_led_x.c", <<'C');
/* { ngx_string("api_led_in_a_comment"), NGX_HTTP_MAIN_CONF, */
static ngx_command_t  ngx_api_led_x_commands[] = {

    { ngx_string("api_led_good"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF
          |NGX_CONF_TAKE1,
      NULL, 0, 0, NULL },

    { ngx_string("api_led_wrong_context"),
      NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      NULL, 0, 0, NULL },

    { ngx_string("api_led_undocumented"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      NULL, 0, 0, NULL },

      ngx_null_command
};

static ngx_http_variable_t  ngx_api_led_x_vars[] = {
    { ngx_string("api_led_var"), NULL, NULL, 0, 0, 0 },
    { ngx_string("api_led_var_undocumented"), NULL, NULL, 0, 0, 0 },
      ngx_http_null_variable
};

static ngx_str_t  ngx_api_led_x_prefix = ngx_string("api_led_x_claim_");
static ngx_str_t  ngx_api_led_x_zone = ngx_string("api_led_not_a_var");

static ngx_int_t
ngx_api_led_x_add_variables(ngx_conf_t *cf)
{
    ngx_str_t  name = ngx_string("api_led_x_status");

    (void) ngx_http_add_variable(cf, &ngx_api_led_x_prefix,
                                 NGX_HTTP_VAR_PREFIX);
    (void) ngx_http_add_variable(cf, &name, 0);
    return NGX_OK;
}
C

    write_file("$dir/docs/x.md", <<'MD');
# X

```
Syntax:  api_led_good on | off;
Default: api_led_good off;
Context: http, server, location
```

```
Syntax:  api_led_wrong_context on | off;
Default: api_led_wrong_context off;
Context: http, location
```

```
Syntax:  api_led_gone NUMBER;
Default: —
Context: http
```

## Embedded Variables

- `$api_led_var`

  documented.

- `$api_led_x_claim_NAME`

  a prefix variable.

- `$api_led_x_status`

  from ngx_http_add_variable.

- `$api_led_not_in_code`

  documented, absent from the code.

The prose may name `$api_led_var_undocumented` without defining it.
MD

    my $r = ApiLed::Docs::compare($dir);

    is_deeply([ sort keys %{ $r->{code} } ],
              [ qw(api_led_good api_led_undocumented api_led_wrong_context) ],
              'checker: directives of a command table in a nested folder, '
              . 'not of comments');
    is_deeply($r->{code}{api_led_good}{contexts},
              [ 'http', 'server', 'location' ],
              'checker: contexts from flags spread over lines');
    is_deeply([ sort keys %{ $r->{code_vars} } ],
              [ qw(api_led_var api_led_var_undocumented api_led_x_claim_
                   api_led_x_status) ],
              'checker: variables of tables and of ngx_http_add_variable, '
              . 'prefix variables end with _');

    my @want = (
        qr/^directive api_led_undocumented .* is not documented/,
        qr/^directive api_led_wrong_context: .*"Context: http, location"/,
        qr/^directive api_led_gone is documented .* no ngx_command_t/,
        qr/^variable \$api_led_var_undocumented .* is not documented/,
        qr/^variable \$api_led_not_in_code is documented .* no such/,
    );

    my @got = @{ $r->{problems} };
    is(scalar @got, scalar @want, 'checker: five mistakes found')
        or diag join "\n", @got;
    for my $re (@want) {
        ok((grep { $_ =~ $re } @got), "checker reports $re")
            or diag join "\n", @got;
    }

    # links and cited files that lead nowhere (and two that do)
    write_file("$dir/docs/y.md", <<'MD');
See [x](x.md#x), [gone](gone.md), [no heading](x.md#nothing),
`t/999-none.t`, `deep/er/ngx_api_led_x.c`, `ngx_api_led_x.c`,
`core/ngx_api_led_gone.c` and `DESIGN.md`.
MD
    my $broken = ApiLed::Docs::broken_references($dir, "$dir/docs/y.md");
    is(join("\n", map { s/^.*?: //r } @$broken),
       join("\n", 'link to gone.md: no such file',
                  'link to x.md#nothing: no such heading',
                  'cites t/999-none.t: no such file',
                  'cites core/ngx_api_led_gone.c: no such file',
                  'cites DESIGN.md: no such file'),
       'checker: broken links and cited files found');
}

# --- the real tree --------------------------------------------------------

my $r = ApiLed::Docs::compare($top);

cmp_ok(scalar keys %{ $r->{code} }, '>=', 30,
       'the C sources have the directives');
cmp_ok(scalar keys %{ $r->{code_vars} }, '>=', 10,
       'the C sources have the variables');

for my $name (sort keys %{ $r->{code} }) {
    my $c = $r->{code}{$name};
    my $d = $r->{doc}{$name};
    ok($d, "$name is documented")
        or diag "$c->{where}: add a Syntax/Default/Context block to docs/";
    next unless $d;
    is(join(', ', ApiLed::Docs::sort_contexts(@{ $d->{contexts} })),
       join(', ', @{ $c->{contexts} }),
       "$name: Context in $d->{where} matches the code");
}

for my $name (sort keys %{ $r->{code_vars} }) {
    ok($r->{doc_vars}{$name}, "\$$name is documented")
        or diag "$r->{code_vars}{$name}: add it to an Embedded Variables "
                . "section of docs/";
}

my @rest = grep { !/^(?:directive |variable \$)api_led_\w+ \(.*\) is not documented/
                  && !/^directive api_led_\w+: .* says "Context/ }
           @{ $r->{problems} };
is_deeply(\@rest, [], 'nothing documented that the code lacks, '
                      . 'no malformed block')
    or diag join "\n", @rest;

# the index lists every directive and variable
my $index = do {
    local $/;
    open my $fh, '<', "$top/docs/index.md" or die "docs/index.md: $!";
    <$fh>;
};
my @unindexed = grep { $index !~ /\b\Q$_\E\b/ } sort keys %{ $r->{code} };
push @unindexed, map { "\$$_" }
                 grep { $index !~ /\$\Q$_\E/ } sort keys %{ $r->{code_vars} };
is_deeply(\@unindexed, [], 'docs/index.md lists every directive and '
                           . 'variable');

my @files = ("$top/README.md", "$top/bench/README.md",
             ApiLed::Docs::md_files("$top/docs"));
my $broken = ApiLed::Docs::broken_references($top, @files);
is(scalar @$broken, 0, 'README.md, bench/README.md and docs/ cite no '
                       . 'missing file, link no missing heading')
    or diag join "\n", @$broken;

done_testing();
